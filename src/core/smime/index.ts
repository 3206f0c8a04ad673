/**
 * S/MIME (CMS) entry points used by core/open.ts and the keyring import/export.
 */
import type { OpenContext } from '../context.ts';
import { SealpostError, asSealpostError } from '../errors.ts';
import type { CertificateEntry, KeyEntry, SmimePrivateEntry } from '../keyring.ts';
import { emptySignature, type CertificateInfo, type EncryptedLayer, type SignedLayer } from '../report.ts';
import { T, UNIVERSAL, oid, readTlv } from './ber.ts';
import { describeParsed, importCertificateEntries, parseCertificate } from './certs.ts';
import { inflateCompressed } from './compressed.ts';
import { decryptEnvelope } from './envelope.ts';
import { OID } from './oids.ts';
import { exportPkcs12File, importPkcs12File } from './pkcs12.ts';
import { decryptPkcs8, pairKeysWithCertificates, splitKeyFile } from './pkcs8.ts';
import { verifySigned } from './signed.ts';

export type CmsKind = 'enveloped' | 'auth-enveloped' | 'signed' | 'compressed' | 'other';

/** Looks at a DER/BER ContentInfo and says what it holds (never throws: 'other' when unsure). */
export function cmsKind(der: Uint8Array): CmsKind {
  try {
    // Only the first element matters; do not walk the (possibly huge, possibly truncated) rest.
    if (der[0] !== 0x30) return 'other';
    let i = 1;
    const l = der[i++] ?? 0;
    if (l & 0x80 && l !== 0x80) i += l & 0x7f;
    const typeTlv = readTlv(der, i);
    if (typeTlv.tag !== T.OID || typeTlv.cls !== UNIVERSAL) return 'other';
    switch (oid(der, typeTlv)) {
      case OID.envelopedData:
        return 'enveloped';
      case OID.authEnvelopedData:
        return 'auth-enveloped';
      case OID.signedData:
        return 'signed';
      case OID.compressedData:
        return 'compressed';
      default:
        return 'other';
    }
  } catch {
    return 'other';
  }
}

const CONTENT_TYPE_NAMES: Record<string, string> = {
  '1.2.840.113549.1.7.1': 'CMS Data',
  '1.2.840.113549.1.7.5': 'CMS DigestedData',
  '1.2.840.113549.1.7.6': 'CMS EncryptedData',
  '1.2.840.113549.1.9.16.1.2': 'CMS AuthenticatedData',
  '1.2.840.113549.1.7.4': 'PKCS#7 SignedAndEnvelopedData',
};

/** The ContentInfo's content type in words, e.g. "CMS EncryptedData" (for errors). */
export function cmsContentTypeName(der: Uint8Array): string {
  try {
    if (der[0] !== 0x30) return 'data that is not CMS';
    let i = 1;
    const l = der[i++] ?? 0;
    if (l & 0x80 && l !== 0x80) i += l & 0x7f;
    const id = oid(der, readTlv(der, i));
    return CONTENT_TYPE_NAMES[id] ?? `CMS content type ${id}`;
  } catch {
    return 'data that is not CMS';
  }
}

function wrap<T>(what: string, f: () => Promise<T>): Promise<T> {
  return f().catch((e: unknown) => {
    throw asSealpostError(e, 'malformed', what);
  });
}

/**
 * Decrypts EnvelopedData or AuthEnvelopedData with a key from ctx.keyring (or ctx.password for PWRI).
 * Errors: no-matching-key (details.recipients says for whom), bad-password, integrity-failure,
 * truncated, malformed, unsupported (naming the algorithm), limit-exceeded.
 */
export function decryptCms(
  der: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer }> {
  return wrap('The encrypted S/MIME message', () => decryptEnvelope(der, ctx));
}

/**
 * Verifies SignedData. `detached` is the signed content for multipart/signed (already CRLF-canonical,
 * exactly the bytes of the first part); null for opaque SignedData, whose encapsulated content is
 * returned. A bad signature is NOT an exception: it is reported with status 'invalid' — and so is a
 * detached signature part that cannot be read at all: it sits in a complete multipart/signed, so
 * it was not "cut off on its way" (what `truncated` would say); it is a damaged or forged signature,
 * and the content it claims to cover is withheld like any other.
 */
export async function verifySignedData(
  der: Uint8Array,
  detached: Uint8Array | null,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  try {
    return await wrap('The S/MIME signature', () => verifySigned(der, detached, ctx));
  } catch (e) {
    if (detached === null || !(e instanceof SealpostError) || !UNREADABLE.has(e.code)) throw e;
    return {
      content: detached,
      layer: {
        kind: 'signed',
        format: 'cms-detached',
        signatures: [
          emptySignature('invalid', [
            'The signature part cannot be read: it is damaged, or it is not an S/MIME signature.',
          ]),
        ],
      },
    };
  }
}

/** Errors that mean a signature part is not a readable signature (not: unsupported, over a limit). */
const UNREADABLE = new Set(['truncated', 'malformed']);

/** Unwraps CMS CompressedData (RFC 3274, zlib) within ctx.limits. */
export function decompressCms(der: Uint8Array, ctx: OpenContext): Promise<Uint8Array> {
  return wrap('The compressed S/MIME message', async () => inflateCompressed(der, ctx));
}

/** Imports a PKCS#12 file: one smime-private entry per key, plus certificate entries (not trusted). */
export function importPkcs12(bytes: Uint8Array, passphrase: string): Promise<KeyEntry[]> {
  return wrap('The PKCS#12 file', () => importPkcs12File(bytes, passphrase));
}

/**
 * Imports PKCS#8 private keys (DER or PEM, plain or encrypted with `passphrase`) with their
 * certificates: from these files (PEM bundles, certificate files) or `knownCertificates`.
 */
export function importPrivateKeyFiles(
  files: Uint8Array[],
  passphrase: string,
  knownCertificates: Uint8Array[],
  trusted: boolean,
): Promise<KeyEntry[]> {
  return wrap('The private key file', async () => {
    const keys: Uint8Array[] = [];
    const certificates: Uint8Array[] = [];
    for (const f of files) {
      const parts = splitKeyFile(f);
      keys.push(...parts.keys);
      for (const e of parts.encryptedKeys) keys.push(await decryptPkcs8(e, passphrase));
      certificates.push(...parts.certificates);
    }
    return pairKeysWithCertificates(keys, certificates, knownCertificates, trusted);
  });
}

/** Exports an identity as PKCS#12 (AES-256-CBC, PBKDF2-SHA256, HMAC-SHA256 MAC). */
export function exportPkcs12(entry: SmimePrivateEntry, passphrase: string): Promise<Uint8Array> {
  if (passphrase.length === 0)
    return Promise.reject(
      new SealpostError('bad-passphrase', 'Choose a passphrase to protect the exported key.'),
    );
  return wrap('Exporting the key', () => exportPkcs12File(entry, passphrase));
}

/** Imports one or more certificates from PEM (several blocks allowed) or DER. */
export function importCertificates(bytes: Uint8Array, trusted: boolean): Promise<CertificateEntry[]> {
  return wrap('The certificate file', () => importCertificateEntries(bytes, trusted));
}

export function describeCertificate(der: Uint8Array): Promise<CertificateInfo> {
  return wrap('The certificate', () => describeParsed(parseCertificate(der)));
}
