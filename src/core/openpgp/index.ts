/**
 * OpenPGP entry points used by core/open.ts and the keyring import/export (OpenPGP.js 6).
 * What is supported and the policy: docs/openpgp.md. Only SealpostError leaves these functions.
 */
import type { OpenContext } from '../context.ts';
import type { KeyEntry, OpenPgpPrivateEntry } from '../keyring.ts';
import type { EncryptedLayer, SignedLayer } from '../report.ts';
import { exportKey, importKeys } from './keys.ts';
import { pgpError } from './lib.ts';
import { decryptMessage, openSigned, verifyDetached } from './messages.ts';

async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw pgpError(e, { what });
  }
}

/**
 * Decrypts an OpenPGP message (armored or binary) with ctx.keyring's secret keys or ctx.password.
 * If the message also carries signatures (combined sign+encrypt), they are verified and returned as
 * `signed`. No plaintext is returned before the integrity check passed.
 *
 * A message that is not encrypted (signed only, or a cleartext-signed text) is refused with
 * code `malformed` and `details.notEncrypted === true`: open it with openOpenPgpSigned.
 */
export async function decryptOpenPgp(
  data: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer; signed: SignedLayer | null }> {
  return guarded('The OpenPGP message', () => decryptMessage(data, ctx));
}

/** Verifies a detached signature (PGP/MIME multipart/signed) over `content` (canonical CRLF bytes). */
export async function verifyOpenPgpDetached(
  content: Uint8Array,
  signature: Uint8Array,
  ctx: OpenContext,
): Promise<SignedLayer> {
  return guarded('The OpenPGP signature', () => verifyDetached(content, signature, ctx));
}

/**
 * Opens a signed, non-encrypted OpenPGP message: a cleartext-signed text or an inline signed message
 * (armored or binary). Returns the signed content and the report.
 */
export async function openOpenPgpSigned(
  data: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  return guarded('The signed OpenPGP message', () => openSigned(data, ctx));
}

/** Imports armored or binary OpenPGP keys; secret keys are unlocked with `passphrase`. */
export async function importOpenPgpKeys(
  data: Uint8Array,
  passphrase: string | undefined,
  trusted: boolean,
): Promise<KeyEntry[]> {
  return guarded('The OpenPGP key', () => importKeys(data, passphrase, trusted));
}

/** Exports a secret key, armored, encrypted under `passphrase`. */
export async function exportOpenPgpKey(entry: OpenPgpPrivateEntry, passphrase: string): Promise<string> {
  return guarded('The OpenPGP key', () => exportKey(entry, passphrase));
}
