/**
 * Members of OpenPGP.js 6.3 objects that exist at run time but are missing from (or private in)
 * its bundled type declarations. Kept in one place, so an upgrade shows what we depend on.
 */
import type * as openpgp from 'openpgp';

export interface VerificationResult {
  keyID: openpgp.KeyID;
  verified: Promise<true>;
  signature: Promise<openpgp.Signature>;
}

export interface DecryptedSessionKey {
  data: Uint8Array;
  algorithm: string | null;
}

export interface PkeskPacket {
  version: number;
  publicKeyID: openpgp.KeyID;
  publicKeyAlgorithm: number;
  read(bytes: Uint8Array): void;
  write(): Uint8Array;
}

export interface SkeskPacket {
  version: number;
  sessionKeyAlgorithm: number | null;
  sessionKeyEncryptionAlgorithm?: number | null;
  s2k?: { type?: string } | null;
}

export interface EncryptedDataPacket {
  version?: number;
  cipherAlgorithm?: number | null;
  aeadAlgorithm?: number | null;
}

export interface LiteralPacket {
  getBytes(clone?: boolean): unknown;
  setText(text: string): void;
}

export interface MessageInternals {
  decryptSessionKeys(
    decryptionKeys: openpgp.PrivateKey[] | undefined,
    passwords: string[] | undefined,
    expectedSymmetricAlgorithm: number | undefined,
    date: Date,
    config: openpgp.Config,
  ): Promise<DecryptedSessionKey[]>;
  decrypt(
    decryptionKeys: openpgp.PrivateKey[] | undefined,
    passwords: string[] | undefined,
    sessionKeys: DecryptedSessionKey[],
    date: Date,
    config: openpgp.Config,
  ): Promise<openpgp.Message<Uint8Array>>;
  verify(keys: openpgp.PublicKey[], date: Date, config: openpgp.Config): Promise<VerificationResult[]>;
  verifyDetached(
    signature: openpgp.Signature,
    keys: openpgp.PublicKey[],
    date: Date,
    config: openpgp.Config,
  ): Promise<VerificationResult[]>;
}

export interface CleartextInternals {
  signature: openpgp.Signature;
  verify(keys: openpgp.PublicKey[], date: Date, config: openpgp.Config): Promise<VerificationResult[]>;
}

export interface PrivateKeyInternals {
  validate(config?: openpgp.Config): Promise<void>;
}

export const internals = {
  message: (m: openpgp.Message<Uint8Array>): MessageInternals => m as unknown as MessageInternals,
  cleartext: (m: openpgp.CleartextMessage): CleartextInternals => m as unknown as CleartextInternals,
  pkesk: (p: unknown): PkeskPacket => p as PkeskPacket,
  skesk: (p: unknown): SkeskPacket => p as SkeskPacket,
  encrypted: (p: unknown): EncryptedDataPacket => p as EncryptedDataPacket,
  literal: (p: unknown): LiteralPacket => p as LiteralPacket,
  privateKey: (k: openpgp.PrivateKey): PrivateKeyInternals => k as unknown as PrivateKeyInternals,
};
