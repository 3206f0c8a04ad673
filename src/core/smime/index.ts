/**
 * S/MIME (CMS) entry points used by core/open.ts and the keyring import/export.
 * CONTRACT — implemented in this folder; see the doc comment of each function.
 */
import type { OpenContext } from '../context.ts';
import type { CertificateEntry, KeyEntry, SmimePrivateEntry } from '../keyring.ts';
import type { CertificateInfo, EncryptedLayer, SignedLayer } from '../report.ts';
import { unsupported } from '../errors.ts';

export type CmsKind = 'enveloped' | 'auth-enveloped' | 'signed' | 'compressed' | 'other';

/** Looks at a DER/BER ContentInfo and says what it holds (never throws: 'other' when unsure). */
export function cmsKind(_der: Uint8Array): CmsKind {
  throw unsupported('CMS', 'S/MIME support is not built yet.');
}

/**
 * Decrypts EnvelopedData or AuthEnvelopedData with a key from ctx.keyring (or ctx.password for PWRI).
 * Returns the decrypted content (a MIME entity, as bytes) and the layer report.
 * Errors: no-matching-key (details.recipients says for whom), bad-password, integrity-failure,
 * truncated, malformed, unsupported (naming the algorithm), limit-exceeded.
 */
export async function decryptCms(
  _der: Uint8Array,
  _ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer }> {
  throw unsupported('CMS', 'S/MIME support is not built yet.');
}

/**
 * Verifies SignedData. `detached` is the signed content for multipart/signed (already CRLF-canonical,
 * exactly the bytes of the first part); null for opaque SignedData, whose encapsulated content is
 * returned. A bad signature is NOT an exception: it is reported with status 'invalid'.
 */
export async function verifySignedData(
  _der: Uint8Array,
  _detached: Uint8Array | null,
  _ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  throw unsupported('CMS', 'S/MIME support is not built yet.');
}

/** Unwraps CMS CompressedData (RFC 3274, zlib) within ctx.limits. */
export async function decompressCms(_der: Uint8Array, _ctx: OpenContext): Promise<Uint8Array> {
  throw unsupported('CMS', 'S/MIME support is not built yet.');
}

/** Imports a PKCS#12 file: one smime-private entry per key, plus certificate entries (not trusted). */
export async function importPkcs12(_bytes: Uint8Array, _passphrase: string): Promise<KeyEntry[]> {
  throw unsupported('PKCS#12', 'S/MIME support is not built yet.');
}

/** Exports an identity as PKCS#12 (AES-256-CBC, PBKDF2-SHA256, HMAC-SHA256 MAC). */
export async function exportPkcs12(_entry: SmimePrivateEntry, _passphrase: string): Promise<Uint8Array> {
  throw unsupported('PKCS#12', 'S/MIME support is not built yet.');
}

/** Imports one or more certificates from PEM (several blocks allowed) or DER. */
export async function importCertificates(_bytes: Uint8Array, _trusted: boolean): Promise<CertificateEntry[]> {
  throw unsupported('X.509', 'S/MIME support is not built yet.');
}

export async function describeCertificate(_der: Uint8Array): Promise<CertificateInfo> {
  throw unsupported('X.509', 'S/MIME support is not built yet.');
}
