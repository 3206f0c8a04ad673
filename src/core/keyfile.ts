/**
 * One entry point for "here is a key file": PKCS#12, PKCS#8 private keys (DER or PEM, plain or
 * encrypted, with their certificates), PEM/DER certificates, OpenPGP keys (armored or binary). Used
 * by the CLI (--key, --trust) and the receiver's import dialog. The S/MIME and OpenPGP modules are
 * loaded only when the file needs them.
 */
import { latin1 } from './bytes.ts';
import { SealpostError, asSealpostError } from './errors.ts';
import type { KeyEntry } from './keyring.ts';
import type { CertificateInfo } from './report.ts';

export type KeyFileKind = 'pkcs12' | 'pkcs8' | 'x509' | 'openpgp' | 'unknown';

/** Guesses what a key file is from its first bytes. */
export function sniffKeyFile(bytes: Uint8Array): KeyFileKind {
  const head = latin1(bytes, 0, Math.min(bytes.length, 4096));
  if (head.includes('-----BEGIN PGP ')) return 'openpgp';
  // A PEM with a private key (and often its certificate after it) is a PKCS#8 key file.
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(head)) return 'pkcs8';
  if (head.includes('-----BEGIN CERTIFICATE-----') || head.includes('-----BEGIN X509 CERTIFICATE-----'))
    return 'x509';
  if (head.includes('-----BEGIN PKCS12-----')) return 'pkcs12';
  const b0 = bytes[0];
  if (b0 === 0x30) {
    // DER SEQUENCE: PKCS#12 starts with INTEGER 3 (version) after the outer length; a certificate
    // starts with another SEQUENCE (tbsCertificate).
    let i = 1;
    const l = bytes[i] ?? 0;
    i += l & 0x80 ? 1 + (l & 0x7f) : 1;
    if (bytes[i] === 0x02 && bytes[i + 1] === 0x01 && bytes[i + 2] === 0x03) return 'pkcs12';
    // PrivateKeyInfo: INTEGER 0 (or 1, RFC 5958 with a public key), then the AlgorithmIdentifier.
    if (bytes[i] === 0x02 && bytes[i + 1] === 0x01 && bytes[i + 2]! <= 1 && bytes[i + 3] === 0x30)
      return 'pkcs8';
    if (bytes[i] === 0x30) {
      // EncryptedPrivateKeyInfo opens with an AlgorithmIdentifier (its OID next); a certificate with
      // tbsCertificate ([0] version or the serial number).
      const l2 = bytes[i + 1] ?? 0;
      const j = i + (l2 & 0x80 ? 2 + (l2 & 0x7f) : 2);
      return bytes[j] === 0x06 ? 'pkcs8' : 'x509';
    }
  }
  // Binary OpenPGP: a packet tag byte has the high bit set (old or new format).
  if (b0 !== undefined && (b0 & 0x80) !== 0) return 'openpgp';
  return 'unknown';
}

export interface ImportOptions {
  /** Unlocks a PKCS#12 file or an OpenPGP secret key. */
  passphrase?: string;
  /** Certificates and OpenPGP public keys become trust anchors / trusted signers. */
  trusted?: boolean;
  /** Certificates (DER) the caller already has, to pair a bare PKCS#8 private key with its own. */
  certificates?: Uint8Array[];
}

/** Reads any supported key file into keyring entries. */
export async function importKeyFile(bytes: Uint8Array, options: ImportOptions = {}): Promise<KeyEntry[]> {
  return importKeyFiles([bytes], options);
}

/**
 * Reads several key files chosen together: a PKCS#8 private key finds its certificate among the
 * others (or in `options.certificates`); every other file is read on its own.
 */
export async function importKeyFiles(files: Uint8Array[], options: ImportOptions = {}): Promise<KeyEntry[]> {
  const kinds = files.map(sniffKeyFile);
  const out: KeyEntry[] = [];
  const pairing = kinds.includes('pkcs8');
  if (pairing) {
    try {
      const { importPrivateKeyFiles } = await import('./smime/index.ts');
      out.push(
        ...(await importPrivateKeyFiles(
          files.filter((_, i) => kinds[i] === 'pkcs8' || kinds[i] === 'x509'),
          options.passphrase ?? '',
          options.certificates ?? [],
          options.trusted ?? false,
        )),
      );
    } catch (e) {
      throw asSealpostError(e, 'malformed', 'The key file');
    }
  }
  for (const [i, bytes] of files.entries()) {
    if (pairing && (kinds[i] === 'pkcs8' || kinds[i] === 'x509')) continue;
    out.push(...(await importOne(bytes, kinds[i]!, options)));
  }
  return out;
}

async function importOne(bytes: Uint8Array, kind: KeyFileKind, options: ImportOptions): Promise<KeyEntry[]> {
  try {
    switch (kind) {
      case 'pkcs12': {
        const { importPkcs12 } = await import('./smime/index.ts');
        return await importPkcs12(bytes, options.passphrase ?? '');
      }
      case 'x509': {
        const { importCertificates } = await import('./smime/index.ts');
        return await importCertificates(bytes, options.trusted ?? false);
      }
      case 'openpgp': {
        const { importOpenPgpKeys } = await import('./openpgp/index.ts');
        return await importOpenPgpKeys(bytes, options.passphrase, options.trusted ?? false);
      }
      default:
        throw new SealpostError(
          'unsupported',
          'This file is not a key file Sealpost knows: use a PKCS#12 (.p12/.pfx), a PKCS#8 private key with its certificate, a PEM or DER certificate, or an OpenPGP key.',
          { algorithm: 'unknown key file format' },
        );
    }
  } catch (e) {
    throw asSealpostError(e, 'malformed', 'The key file');
  }
}

/**
 * Exports a private identity, protected by `passphrase`: S/MIME as PKCS#12 (AES-256-CBC,
 * PBKDF2-SHA256), OpenPGP as an armored secret key.
 */
export async function exportPrivateKey(
  entry: KeyEntry,
  passphrase: string,
): Promise<{ kind: 'pkcs12'; data: Uint8Array } | { kind: 'openpgp'; data: string }> {
  try {
    if (entry.type === 'smime-private') {
      const { exportPkcs12 } = await import('./smime/index.ts');
      return { kind: 'pkcs12', data: await exportPkcs12(entry, passphrase) };
    }
    if (entry.type === 'openpgp-private') {
      const { exportOpenPgpKey } = await import('./openpgp/index.ts');
      return { kind: 'openpgp', data: await exportOpenPgpKey(entry, passphrase) };
    }
  } catch (e) {
    throw asSealpostError(e, 'malformed', 'The key');
  }
  throw new SealpostError('unsupported', 'Only private keys can be exported with a passphrase.', {
    algorithm: entry.type,
  });
}

/** What key generation can make. */
export type GenerateKind = 'openpgp' | 'smime' | 'smime-pq';

/**
 * Generates a new key pair for `email`: OpenPGP (with its public key), S/MIME (RSA, self-signed),
 * or post-quantum S/MIME (ML-KEM-768 for encryption, certified by an ML-DSA-65 signing key; the
 * encryption identity first).
 */
export async function generateIdentity(kind: GenerateKind, name: string, email: string): Promise<KeyEntry[]> {
  try {
    if (kind === 'openpgp') {
      const { generateOpenPgpIdentity } = await import('./openpgp/generate.ts');
      return await generateOpenPgpIdentity(name, email);
    }
    if (kind === 'smime-pq') {
      const { generatePostQuantumIdentity } = await import('./smime/generate-pq.ts');
      return await generatePostQuantumIdentity(name, email);
    }
    const { generateSmimeIdentity } = await import('./smime/generate.ts');
    return [await generateSmimeIdentity(name, email)];
  } catch (e) {
    throw asSealpostError(e, 'malformed', 'Generating the key');
  }
}

/** Describes an X.509 certificate (DER) for people: subject, issuer, validity, fingerprints, usage. */
export async function describeCertificateDer(der: Uint8Array): Promise<CertificateInfo> {
  try {
    const { describeCertificate } = await import('./smime/index.ts');
    return await describeCertificate(der);
  } catch (e) {
    throw asSealpostError(e, 'malformed', 'The certificate');
  }
}
