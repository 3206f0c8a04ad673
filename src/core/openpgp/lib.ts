/**
 * Shared plumbing for the OpenPGP half: per-call OpenPGP.js configuration (never the global one),
 * reading armored or binary input, naming algorithms for reports, and turning OpenPGP.js's errors
 * (plain `Error`s told apart only by their text) into SealpostError codes.
 */
import * as openpgp from 'openpgp';
import { base64Decode, fromUtf8, latin1 } from '../bytes.ts';
import { SealpostError, limitExceeded, malformed } from '../errors.ts';
import type { Limits } from '../limits.ts';

const MIB = 1024 * 1024;

/**
 * RFC 9580's first recommended Argon2 parameter set uses 2 GiB (2^21 KiB); OpenPGP.js allows up
 * to 2^30 KiB by default, which a hostile message could ask for. See docs/openpgp.md.
 */
export const MAX_ARGON2_MEMORY_EXPONENT = 21;

/** The decompression limit for one message: the absolute cap, or the ratio cap once past 1 MiB. */
export interface DecompressionLimit {
  bytes: number;
  limit: 'decompressed size' | 'decompression ratio';
  value: number;
}

export function decompressionLimit(limits: Limits, inputSize: number): DecompressionLimit {
  const byRatio = Math.max(MIB, limits.maxDecompressionRatio * inputSize);
  if (byRatio < limits.maxDecompressedBytes) {
    return { bytes: byRatio, limit: 'decompression ratio', value: limits.maxDecompressionRatio };
  }
  return {
    bytes: limits.maxDecompressedBytes,
    limit: 'decompressed size',
    value: limits.maxDecompressedBytes,
  };
}

/**
 * The configuration for one call: OpenPGP.js's defaults (integrity-protected messages only, no
 * SHA-1 message signatures, no unauthenticated streaming) plus our limits. A fresh object every
 * time: the library's global `openpgp.config` is never touched.
 */
export function strictConfig(decompression?: DecompressionLimit): openpgp.Config {
  return {
    ...openpgp.config,
    allowUnauthenticatedMessages: false,
    allowUnauthenticatedStream: false,
    maxDecompressedMessageSize: decompression
      ? decompression.bytes
      : openpgp.config.maxDecompressedMessageSize,
    maxArgon2MemoryExponent: MAX_ARGON2_MEMORY_EXPONENT,
  };
}

/**
 * A configuration used only to ask "is this signature mathematically correct?" after the strict
 * check refused it for a policy reason (weak hash, short RSA key, …): it never makes a signature
 * `valid`, it only tells `untrusted` (good maths, refused policy) from `invalid` (bad maths).
 */
export function relaxedConfig(): openpgp.Config {
  return {
    ...strictConfig(),
    rejectHashAlgorithms: new Set(),
    rejectMessageHashAlgorithms: new Set(),
    rejectPublicKeyAlgorithms: new Set(),
    rejectCurves: new Set(),
    minRSABits: 0,
  };
}

export type PgpInput = { armored: string; binary?: undefined } | { binary: Uint8Array; armored?: undefined };

const BEGIN = '-----BEGIN PGP ';

/**
 * Armored (text beginning with an armor header line, after white space) or binary (a packet tag
 * byte with the high bit set). A cut-off armor (no END line) is `truncated` before OpenPGP.js sees it.
 */
export function readInput(data: Uint8Array, what = 'The OpenPGP data'): PgpInput {
  let i = 0;
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) i = 3; // UTF-8 byte order mark
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x09 || data[i] === 0x0d || data[i] === 0x0a))
    i++;
  if (i >= data.length) throw malformed(`${what} is empty.`);
  const head = latin1(data, i, Math.min(data.length, i + BEGIN.length));
  if (head === BEGIN) {
    const text = fromUtf8(data.subarray(i));
    if (!/^-----END PGP [A-Z ,/0-9]*-----/m.test(text)) {
      throw new SealpostError('truncated', `${what} is cut off: its armor has no END line.`);
    }
    return { armored: text };
  }
  if ((data[i]! & 0x80) !== 0) return { binary: i === 0 ? data : data.subarray(i) };
  throw malformed(`${what} is neither armored nor binary OpenPGP.`);
}

const MESSAGE_BEGIN = '-----BEGIN PGP MESSAGE-----';
const MESSAGE_END = '-----END PGP MESSAGE-----';

/**
 * An armored OpenPGP *message*, dearmored here rather than by OpenPGP.js: on bytes, with core's
 * base64 (and the host's faster one when it has it), without turning 100 MB into a string first.
 * The CRC24 line is not checked (RFC 9580 §6.1 makes it optional; the message's own MDC or AEAD tag
 * is what protects it). Returns null when `data` is not an armored message (the caller then reads
 * it the usual way); throws `truncated` when its END line is missing.
 */
export function dearmorMessage(data: Uint8Array, what: string): Uint8Array | null {
  let i = 0;
  if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) i = 3;
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x09 || data[i] === 0x0d || data[i] === 0x0a))
    i++;
  if (latin1(data, i, Math.min(data.length, i + MESSAGE_BEGIN.length)) !== MESSAGE_BEGIN) return null;
  // Past the BEGIN line, then the armor headers ("Key: value" lines) up to the blank line.
  const line = data.indexOf(10, i);
  if (line < 0) throw new SealpostError('truncated', `${what} is cut off: its armor has no END line.`);
  let pos = line + 1;
  for (let n = 0; n < 64; n++) {
    const next = data.indexOf(10, pos);
    if (next < 0) break;
    const text = latin1(data, pos, next).replace(/[\r\s]+$/, '');
    if (text === '') {
      pos = next + 1;
      break;
    }
    if (!/^[A-Za-z][A-Za-z0-9-]*: /.test(text)) break; // no header section: the body starts here
    pos = next + 1;
  }
  const endMarker = new TextEncoder().encode(MESSAGE_END);
  let end = data.indexOf(endMarker[0]!, pos);
  while (end >= 0) {
    let k = 1;
    while (k < endMarker.length && data[end + k] === endMarker[k]) k++;
    if (k === endMarker.length && (data[end - 1] === 10 || end === pos)) break;
    end = data.indexOf(endMarker[0]!, end + 1);
  }
  if (end < 0) throw new SealpostError('truncated', `${what} is cut off: its armor has no END line.`);
  // The CRC24 line ("=XXXX") and any '=' padding end the decoding by themselves.
  return base64Decode(data.subarray(pos, end), true);
}

/** The armor type of armored input ("MESSAGE", "SIGNED MESSAGE", "SIGNATURE", "PUBLIC KEY BLOCK", …). */
export function armorType(armored: string): string | null {
  const m = /^-----BEGIN PGP ([A-Z ,/0-9]+)-----/.exec(armored);
  return m ? m[1]! : null;
}

const HASH_NAMES: Record<number, string> = {
  1: 'MD5',
  2: 'SHA-1',
  3: 'RIPEMD-160',
  8: 'SHA-256',
  9: 'SHA-384',
  10: 'SHA-512',
  11: 'SHA-224',
  12: 'SHA3-256',
  14: 'SHA3-512',
};
export const hashName = (id: number | null | undefined): string =>
  id == null ? 'unknown' : (HASH_NAMES[id] ?? `hash algorithm ${id}`);

/** Hash algorithms that never make a signature `valid`, whatever the library accepts. */
export const WEAK_HASHES = new Set([1, 2, 3]);

const SYMMETRIC_NAMES: Record<number, string> = {
  0: 'plaintext',
  1: 'IDEA',
  2: 'TripleDES',
  3: 'CAST5',
  4: 'Blowfish',
  7: 'AES-128',
  8: 'AES-192',
  9: 'AES-256',
  10: 'Twofish',
  11: 'Camellia-128',
  12: 'Camellia-192',
  13: 'Camellia-256',
};
export const symmetricName = (id: number | string | null | undefined): string => {
  if (id == null) return 'unknown';
  if (typeof id === 'string') {
    const n = (openpgp.enums.symmetric as unknown as Record<string, number>)[id];
    return n === undefined ? id : symmetricName(n);
  }
  return SYMMETRIC_NAMES[id] ?? `symmetric algorithm ${id}`;
};

const AEAD_NAMES: Record<number, string> = { 1: 'EAX', 2: 'OCB', 3: 'GCM', 100: 'GCM (OpenPGP.js v5)' };
export const aeadName = (id: number | null | undefined): string =>
  id == null ? 'unknown' : (AEAD_NAMES[id] ?? `AEAD algorithm ${id}`);

const PUBLIC_KEY_NAMES: Record<number, string> = {
  1: 'RSA',
  2: 'RSA (encrypt only)',
  3: 'RSA (sign only)',
  16: 'ElGamal',
  17: 'DSA',
  18: 'ECDH',
  19: 'ECDSA',
  22: 'EdDSA (legacy)',
  25: 'X25519',
  26: 'X448',
  27: 'Ed25519',
  28: 'Ed448',
};
export const publicKeyAlgorithmName = (id: number | null | undefined): string =>
  id == null ? 'unknown' : (PUBLIC_KEY_NAMES[id] ?? `public-key algorithm ${id}`);

const CURVE_NAMES: Record<string, string> = {
  nistP256: 'P-256',
  nistP384: 'P-384',
  nistP521: 'P-521',
  secp256k1: 'secp256k1',
  ed25519Legacy: 'Ed25519',
  curve25519Legacy: 'Curve25519',
  brainpoolP256r1: 'brainpoolP256r1',
  brainpoolP384r1: 'brainpoolP384r1',
  brainpoolP512r1: 'brainpoolP512r1',
};

/** "RSA 3072", "Ed25519", "Ed25519 (legacy EdDSA)", "ECDSA P-384", "X25519 (legacy ECDH)", … */
export function keyAlgorithmName(info: openpgp.AlgorithmInfo): string {
  const curve = info.curve ? (CURVE_NAMES[info.curve] ?? info.curve) : '';
  switch (info.algorithm) {
    case 'rsaEncryptSign':
    case 'rsaEncrypt':
    case 'rsaSign':
      return `RSA ${info.bits ?? ''}`.trim();
    case 'dsa':
      return `DSA ${info.bits ?? ''}`.trim();
    case 'elgamal':
      return `ElGamal ${info.bits ?? ''}`.trim();
    case 'eddsaLegacy':
      return 'Ed25519 (legacy EdDSA)';
    case 'ecdh':
      return curve === 'Curve25519' ? 'X25519 (legacy ECDH)' : `ECDH ${curve}`;
    case 'ecdsa':
      return `ECDSA ${curve}`;
    case 'x25519':
      return 'X25519';
    case 'x448':
      return 'X448';
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return String(info.algorithm);
  }
}

export const hex = (keyId: { toHex(): string }): string => keyId.toHex().toLowerCase();

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Errors thrown by a signature check whose maths failed (as opposed to a refused policy). */
export const CRYPTO_FAILURE =
  /Signed digest did not match|Signature verification failed|not issued by the given public key|does not match issuer key algorithm/;

export interface ErrorContext {
  /** What was being read, for the sentence: "The message", "The signature", "The key". */
  what: string;
  decompression?: DecompressionLimit;
  /** The input was armored (a bad armor then means damaged, not cut off). */
  armored?: boolean;
}

/**
 * Maps anything OpenPGP.js throws to one of our codes. OpenPGP.js has no error codes, so this
 * reads its messages (pinned by the tests in test/core/openpgp). Unknown errors are `malformed`.
 */
export function pgpError(e: unknown, c: ErrorContext): SealpostError {
  if (e instanceof SealpostError) return e;
  const name = e instanceof Error ? e.name : '';
  const text = errorText(e);
  const opts = { cause: e };
  if (/Maximum decompressed message size exceeded/.test(text)) {
    const d = c.decompression;
    return d
      ? limitExceeded(
          d.limit,
          d.value,
          d.limit === 'decompression ratio'
            ? `${c.what} inflates more than ${d.value} times its size when decompressed (a decompression bomb?).`
            : `${c.what} inflates beyond the limit of ${d.value} bytes when decompressed.`,
        )
      : limitExceeded('decompressed size', 0);
  }
  if (name === 'Argon2OutOfMemoryError' || /Argon2/i.test(text)) {
    return new SealpostError(
      'limit-exceeded',
      `${c.what} asks for more Argon2 memory than allowed (2^${MAX_ARGON2_MEMORY_EXPONENT} KiB).`,
      { limit: 'Argon2 memory', value: 2 ** MAX_ARGON2_MEMORY_EXPONENT * 1024 },
      opts,
    );
  }
  if (/Message is not authenticated|not integrity protected/i.test(text)) {
    return new SealpostError(
      'unsupported',
      `${c.what} is encrypted without integrity protection (a pre-2001 format that cannot be opened safely).`,
      { algorithm: 'Symmetrically Encrypted Data without MDC (packet tag 9)' },
      opts,
    );
  }
  if (
    /Modification detected|Authentication tag mismatch|tag mismatch|MDC|integrity|OperationError/i.test(text)
  ) {
    return new SealpostError(
      'integrity-failure',
      `${c.what} was altered or damaged: its integrity check failed.`,
      {},
      opts,
    );
  }
  if (/Unexpected end of (packet|stream|input)|premature end|end of data/i.test(text)) {
    return new SealpostError('truncated', `${c.what} is cut off.`, {}, opts);
  }
  // MalformedPacketError is a subclass of UnsupportedError in OpenPGP.js: it means damaged data.
  if (name === 'MalformedPacketError') return malformed(`${c.what} is damaged: ${text}`, {}, e);
  if (
    name === 'UnsupportedError' ||
    name === 'UnknownPacketError' ||
    /unsupported|not supported|Unknown (curve|.*algorithm|s2k)|Invalid enum value|not implemented/i.test(text)
  ) {
    return new SealpostError(
      'unsupported',
      `${c.what} uses something Sealpost cannot read: ${text}`,
      { algorithm: algorithmFromText(text) },
      opts,
    );
  }
  return malformed(`${c.what} could not be read: ${text}`, {}, e);
}

/** Best-effort name of the algorithm or feature an OpenPGP.js "unsupported" error is about. */
function algorithmFromText(text: string): string {
  const version = /Version (\d+) of the (.+?) (?:packet )?is (?:unsupported|not supported)/i.exec(text);
  if (version) return `${version[2]!.replace(/ packet$/, '')} packet version ${version[1]}`;
  const armorHash = /Unknown hash algorithm in armor header: (\S+)/i.exec(text);
  if (armorHash) return armorHash[1]!.toUpperCase();
  const enumValue = /Invalid enum value\.?\s*(.*)/i.exec(text);
  if (enumValue) return `unknown algorithm identifier ${enumValue[1] ?? ''}`.trim();
  return text.replace(/[.:]\s*$/, '');
}
