/**
 * Private keys as PKCS#8 files (RFC 5208/5958) — DER or PEM, plain ("PRIVATE KEY") or encrypted
 * ("ENCRYPTED PRIVATE KEY", PBES2 as OpenSSL writes it) — paired with their certificates.
 *
 * A bare private key is not an identity: it becomes one with the certificate whose public key is
 * its own, found in the same PEM file, in the other files imported with it, or among certificates
 * the caller already has. The public key is derived from the private key (RSA: the modulus and
 * exponent in RSAPrivateKey; EC: the public point in ECPrivateKey or computed by WebCrypto; ML-KEM,
 * ML-DSA, SLH-DSA, X25519, X448, Ed25519, Ed448: modern-keys.ts) and compared with the
 * certificate's, so a key never lands beside the wrong certificate.
 */
import { base64Decode, equalBytes, latin1, sha256Hex, toArrayBuffer } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import type { CertificateEntry, KeyEntry, SmimePrivateEntry } from '../keyring.ts';
import { CONTEXT, T, UNIVERSAL, children, content, expect, is, oid as readOid, readTlv } from './ber.ts';
import { certificateLabel, isCA, parseCertificate, type ParsedCertificate } from './certs.ts';
import { stripZeros } from './ids.ts';
import { fromBinary, loadForge, toBinary } from './legacy.ts';
import { readModernPrivateKey, pkcs8Parts } from './modern-keys.ts';
import { spkiParts } from './modern-signatures.ts';
import { CURVES, OID } from './oids.ts';

export interface KeyFileParts {
  keys: Uint8Array[]; // PrivateKeyInfo, DER
  encryptedKeys: Uint8Array[]; // EncryptedPrivateKeyInfo, DER
  certificates: Uint8Array[]; // DER
}

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Says whether bytes are a PKCS#8 file: a PEM with a private key block, or DER (Encrypted)PrivateKeyInfo. */
export function isPkcs8File(bytes: Uint8Array): boolean {
  const head = latin1(bytes, 0, Math.min(bytes.length, 1 << 20));
  if (head.includes('-----BEGIN')) return /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(head);
  return derKind(bytes) !== null;
}

function derKind(bytes: Uint8Array): 'plain' | 'encrypted' | null {
  try {
    const top = readTlv(bytes, 0);
    if (top.end !== bytes.length || !is(top, UNIVERSAL, T.SEQUENCE)) return null;
    const f = children(bytes, top);
    // PrivateKeyInfo: INTEGER version (0, or 1 with a public key), AlgorithmIdentifier, OCTET STRING.
    if (
      is(f[0], UNIVERSAL, T.INTEGER) &&
      is(f[1], UNIVERSAL, T.SEQUENCE) &&
      is(f[2], UNIVERSAL, T.OCTET_STRING)
    )
      return 'plain';
    // EncryptedPrivateKeyInfo: AlgorithmIdentifier (starting with its OID), OCTET STRING.
    if (
      f.length === 2 &&
      is(f[0], UNIVERSAL, T.SEQUENCE) &&
      is(children(bytes, f[0])[0], UNIVERSAL, T.OID) &&
      is(f[1], UNIVERSAL, T.OCTET_STRING)
    )
      return 'encrypted';
  } catch {
    // not DER
  }
  return null;
}

/** The private keys and certificates of one file. */
export function splitKeyFile(bytes: Uint8Array): KeyFileParts {
  const out: KeyFileParts = { keys: [], encryptedKeys: [], certificates: [] };
  const head = latin1(bytes, 0, Math.min(bytes.length, 1 << 20));
  if (!head.includes('-----BEGIN')) {
    const kind = derKind(bytes);
    if (kind === 'plain') out.keys.push(bytes);
    else if (kind === 'encrypted') out.encryptedKeys.push(bytes);
    else out.certificates.push(bytes);
    return out;
  }
  for (const m of head.matchAll(PEM)) {
    const der = base64Decode(m[2]!.replace(/^[A-Za-z-]+:.*$/gm, ''));
    if (m[1] === 'PRIVATE KEY') out.keys.push(der);
    else if (m[1] === 'ENCRYPTED PRIVATE KEY') out.encryptedKeys.push(der);
    else if (/^(X509 |TRUSTED )?CERTIFICATE$/.test(m[1]!)) out.certificates.push(der);
    else if (/PRIVATE KEY$/.test(m[1]!))
      throw new SealpostError(
        'unsupported',
        `This file holds a "${m[1]}" in an older format: convert it to PKCS#8 first (openssl pkcs8 -topk8 -in FILE).`,
        { algorithm: m[1] },
      );
  }
  return out;
}

/** Decrypts an EncryptedPrivateKeyInfo (PBES2/PBKDF2 with AES or 3DES, as OpenSSL and Java write). */
export async function decryptPkcs8(der: Uint8Array, passphrase: string): Promise<Uint8Array> {
  if (passphrase.length === 0)
    throw new SealpostError(
      'bad-passphrase',
      'The private key is encrypted: type its passphrase to import it.',
    );
  const forge = await loadForge();
  let info: unknown = null;
  try {
    info = forge.pki.decryptPrivateKeyInfo(
      forge.asn1.fromDer(forge.util.createBuffer(toBinary(der))),
      passphrase,
    );
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    if (/Unsupported|not supported/i.test(text))
      throw new SealpostError(
        'unsupported',
        `The private key is encrypted with an algorithm Sealpost cannot read (${text}).`,
        {
          algorithm: text,
        },
      );
  }
  if (!info) throw new SealpostError('bad-passphrase', 'The passphrase for this private key is not correct.');
  const plain = fromBinary(forge.asn1.toDer(info as Parameters<typeof forge.asn1.toDer>[0]).getBytes());
  if (derKind(plain) !== 'plain')
    throw new SealpostError('bad-passphrase', 'The passphrase for this private key is not correct.');
  return plain;
}

/** The public key bytes of a private key, in the form its certificate's SubjectPublicKeyInfo holds. */
async function publicKeyOf(pkcs8: Uint8Array): Promise<{ oid: string; key: Uint8Array } | null> {
  const modern = await readModernPrivateKey(pkcs8);
  if (modern) return { oid: modern.oid, key: modern.publicKey };
  const { oid, privateKey } = pkcs8Parts(pkcs8);
  if (oid === OID.rsaEncryption || oid === OID.rsaPss) {
    // RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, … }: compared as RSAPublicKey.
    const [, n, e] = children(privateKey, readTlv(privateKey, 0));
    return { oid: OID.rsaEncryption, key: rsaPublicKeyDer(content(privateKey, n!), content(privateKey, e!)) };
  }
  if (oid === OID.ecPublicKey) {
    // ECPrivateKey ::= SEQUENCE { version, privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }
    const f = children(privateKey, readTlv(privateKey, 0));
    const pub = f.find((x) => is(x, CONTEXT, 1));
    if (pub)
      return {
        oid,
        key: content(
          privateKey,
          expect(children(privateKey, pub)[0], UNIVERSAL, T.BIT_STRING, 'publicKey'),
        ).subarray(1),
      };
    const alg = children(pkcs8, children(pkcs8, readTlv(pkcs8, 0))[1]!);
    const curve = is(alg[1], UNIVERSAL, T.OID) ? CURVES[readOid(pkcs8, alg[1])] : undefined;
    if (!curve) return null;
    const key = await crypto.subtle.importKey(
      'pkcs8',
      toArrayBuffer(pkcs8),
      { name: 'ECDH', namedCurve: curve.webcrypto },
      true,
      ['deriveBits'],
    );
    const jwk = await crypto.subtle.exportKey('jwk', key);
    return {
      oid,
      key: new Uint8Array([4, ...base64Decode(b64url(jwk.x!)), ...base64Decode(b64url(jwk.y!))]),
    };
  }
  return null;
}

function b64url(s: string): string {
  return s.replace(/-/g, '+').replace(/_/g, '/');
}

/** Modulus and exponent without leading zeros, as a comparable key. */
function rsaPublicKeyDer(n: Uint8Array, e: Uint8Array): Uint8Array {
  const a = stripZeros(n);
  const b = stripZeros(e);
  const out = new Uint8Array(a.length + b.length + 1);
  out.set(a);
  out[a.length] = 0xff;
  out.set(b, a.length + 1);
  return out;
}

function certificatePublicKey(p: ParsedCertificate): { oid: string; key: Uint8Array } | null {
  try {
    const spki = new Uint8Array(p.cert.subjectPublicKeyInfo.toSchema().toBER(false));
    const { oid, key } = spkiParts(spki);
    if (oid === OID.rsaEncryption || oid === OID.rsaPss) {
      const [n, e] = children(key, readTlv(key, 0));
      return { oid: OID.rsaEncryption, key: rsaPublicKeyDer(content(key, n!), content(key, e!)) };
    }
    return { oid, key };
  } catch {
    return null;
  }
}

/**
 * Pairs each private key with the certificate holding its public key. The certificates that are
 * nobody's are returned as certificate entries (trusted when `trusted`), the others of the files
 * become the identity's chain. A key without its certificate is an error that says what to do.
 */
export async function pairKeysWithCertificates(
  keys: Uint8Array[],
  fileCertificates: Uint8Array[],
  knownCertificates: Uint8Array[],
  trusted: boolean,
): Promise<KeyEntry[]> {
  const parse = (der: Uint8Array): ParsedCertificate | null => {
    try {
      return parseCertificate(der);
    } catch {
      return null;
    }
  };
  const inFiles = fileCertificates.map(parse).filter((p): p is ParsedCertificate => p !== null);
  const known = knownCertificates.map(parse).filter((p): p is ParsedCertificate => p !== null);
  const used = new Set<ParsedCertificate>();
  const out: KeyEntry[] = [];
  for (const pkcs8 of keys) {
    let pub: { oid: string; key: Uint8Array } | null;
    try {
      pub = await publicKeyOf(pkcs8);
    } catch (e) {
      if (e instanceof SealpostError) throw e;
      throw new SealpostError('malformed', 'The private key could not be read.', {}, { cause: e });
    }
    if (!pub)
      throw new SealpostError(
        'unsupported',
        `Private keys of this kind (${pkcs8Parts(pkcs8).oid}) are not supported.`,
        {
          algorithm: pkcs8Parts(pkcs8).oid,
        },
      );
    const mine = [...inFiles, ...known].find((c) => {
      const k = certificatePublicKey(c);
      return k !== null && equalBytes(k.key, pub.key);
    });
    if (!mine)
      throw new SealpostError(
        'malformed',
        'This private key came without its certificate: import the certificate together with it (in the same PEM file, or choose both files at once).',
        { missing: 'certificate' },
      );
    used.add(mine);
    const entry: SmimePrivateEntry = {
      type: 'smime-private',
      id: await sha256Hex(mine.der),
      label: certificateLabel(mine.cert),
      certificate: mine.der,
      chain: inFiles.filter((c) => c !== mine && isCA(c.cert)).map((c) => c.der),
      pkcs8,
    };
    out.push(entry);
  }
  for (const c of inFiles) {
    if (used.has(c)) continue;
    const entry: CertificateEntry = {
      type: 'certificate',
      id: await sha256Hex(c.der),
      label: certificateLabel(c.cert),
      certificate: c.der,
      trusted,
    };
    out.push(entry);
  }
  return out;
}
