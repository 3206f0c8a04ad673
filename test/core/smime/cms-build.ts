/**
 * Test-side CMS writers for what no peer on this machine makes (OpenSSL 3.0 signs no EdDSA CMS and
 * agrees no X25519/X448 keys in CMS): SignedData signed with EdDSA or ML-DSA/SLH-DSA keys, and
 * EnvelopedData/AuthEnvelopedData to X25519/X448 (RFC 8418) or with any RecipientInfo the caller
 * built (KEMRecipientInfo from core, KEKRecipientInfo here). Straight DER, field by field after the
 * RFCs; the keys and certificates come from openssl (test/fixtures) or from the vectors.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { concatBytes } from '../../../src/core/bytes.ts';
import { CONTEXT, children, is, raw, readTlv } from '../../../src/core/smime/ber.ts';
import { parseCertificate } from '../../../src/core/smime/certs.ts';
import { derInteger, eccCmsSharedInfo, hkdf, tlv, x963Kdf } from '../../../src/core/smime/kdf.ts';
import { oidDer } from '../../../src/core/smime/kem-recipient.ts';
import { aesKeyWrap } from '../../../src/core/smime/keywrap.ts';
import { readModernPrivateKey } from '../../../src/core/smime/modern-keys.ts';
import { spkiParts } from '../../../src/core/smime/modern-signatures.ts';

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concatBytes(parts));
export const set = (...parts: Uint8Array[]): Uint8Array => tlv(0x31, concatBytes(parts));
export const octet = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const alg = (oid: string, params?: Uint8Array): Uint8Array =>
  seq(oidDer(oid), ...(params ? [params] : []));
const explicit = (n: number, body: Uint8Array): Uint8Array => tlv(0xa0 + n, body);

export const OIDS = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha512: '2.16.840.1.101.3.4.2.3',
  shake256: '2.16.840.1.101.3.4.2.12',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  aes256Gcm: '2.16.840.1.101.3.4.1.46',
  aes256Wrap: '2.16.840.1.101.3.4.1.45',
  chacha: '1.2.840.113549.1.9.16.3.18',
  x25519: '1.3.101.110',
  x448: '1.3.101.111',
  hkdfSha256Scheme: '1.2.840.113549.1.9.16.3.19',
  x963Sha256Scheme: '1.3.132.1.11.1',
} as const;

/** IssuerAndSerialNumber of a certificate (DER). */
export function issuerAndSerial(certificate: Uint8Array): Uint8Array {
  const [tbs] = children(certificate, readTlv(certificate, 0));
  const f = children(certificate, tbs!);
  const k = is(f[0], CONTEXT, 0) ? 1 : 0;
  return seq(raw(certificate, f[k + 2]!), raw(certificate, f[k]!));
}

function digest(oid: string, data: Uint8Array): Uint8Array {
  if (oid === OIDS.shake256)
    return new Uint8Array(createHash('shake256', { outputLength: 64 }).update(data).digest());
  return new Uint8Array(
    createHash(oid === OIDS.sha512 ? 'sha512' : 'sha256')
      .update(data)
      .digest(),
  );
}

/**
 * Opaque SignedData over `content`, signed by the key in `pkcs8` (Ed25519, Ed448, ML-DSA, SLH-DSA)
 * whose certificate is `certificate`, with contentType and messageDigest signed attributes.
 */
export async function signModern(opts: {
  content: Uint8Array;
  certificate: Uint8Array;
  pkcs8: Uint8Array;
  chain?: Uint8Array[];
  digest?: string;
}): Promise<Uint8Array> {
  const key = await readModernPrivateKey(opts.pkcs8);
  if (!key) throw new Error('not a modern key');
  const sigOid = spkiParts(
    new Uint8Array(parseCertificate(opts.certificate).cert.subjectPublicKeyInfo.toSchema().toBER(false)),
  ).oid;
  const digestOid = opts.digest ?? (key.kind === 'ed448' ? OIDS.shake256 : OIDS.sha512);
  const attrs = [
    seq(oidDer(OIDS.contentType), set(oidDer(OIDS.data))),
    seq(oidDer(OIDS.messageDigest), set(octet(digest(digestOid, opts.content)))),
  ];
  const signedAttrs = set(...attrs);
  let signature: Uint8Array;
  if (key.kind === 'ed25519')
    signature = (await import('@noble/curves/ed25519.js')).ed25519.sign(signedAttrs, key.secretKey);
  else if (key.kind === 'ed448')
    signature = (await import('@noble/curves/ed448.js')).ed448.sign(signedAttrs, key.secretKey);
  else if (key.kind === 'ml-dsa') {
    const lib = (await import('@noble/post-quantum/ml-dsa.js'))[key.set as 'ml_dsa44'];
    signature = lib.sign(signedAttrs, key.secretKey);
  } else throw new Error(`cannot sign with ${key.kind}`);
  const signerInfo = seq(
    derInteger(1),
    issuerAndSerial(opts.certificate),
    alg(digestOid),
    tlv(0xa0, concatBytes(attrs)),
    alg(sigOid),
    octet(signature),
  );
  const sd = seq(
    derInteger(1),
    set(alg(digestOid)),
    seq(oidDer(OIDS.data), explicit(0, octet(opts.content))),
    tlv(0xa0, concatBytes([opts.certificate, ...(opts.chain ?? [])])),
    set(signerInfo),
  );
  return seq(oidDer(OIDS.signedData), explicit(0, sd));
}

/** KeyAgreeRecipientInfo ([1]) to an X25519 or X448 certificate with a fresh ephemeral key (RFC 8418). */
export async function xRecipient(
  certificate: Uint8Array,
  cek: Uint8Array,
  opts: { scheme?: string; ukm?: Uint8Array } = {},
): Promise<Uint8Array> {
  const spki = spkiParts(
    new Uint8Array(parseCertificate(certificate).cert.subjectPublicKeyInfo.toSchema().toBER(false)),
  );
  const curve =
    spki.oid === OIDS.x25519
      ? (await import('@noble/curves/ed25519.js')).x25519
      : (await import('@noble/curves/ed448.js')).x448;
  const eph = curve.utils.randomSecretKey();
  const z = curve.getSharedSecret(eph, spki.key);
  const scheme = opts.scheme ?? OIDS.hkdfSha256Scheme;
  const wrap = alg(OIDS.aes256Wrap);
  const info = eccCmsSharedInfo(wrap, opts.ukm ?? null, 32);
  const kek =
    scheme === OIDS.hkdfSha256Scheme
      ? await hkdf('SHA-256', z, info, 32)
      : await x963Kdf('SHA-256', z, info, 32);
  const encryptedKey = await aesKeyWrap(kek, cek);
  const originator = explicit(
    0,
    tlv(
      0xa1,
      concatBytes([alg(spki.oid), tlv(0x03, concatBytes([Uint8Array.of(0), curve.getPublicKey(eph)]))]),
    ),
  );
  return tlv(
    0xa1,
    concatBytes([
      derInteger(3),
      originator,
      ...(opts.ukm ? [explicit(1, octet(opts.ukm))] : []),
      alg(scheme, wrap),
      seq(seq(issuerAndSerial(certificate), octet(encryptedKey))),
    ]),
  );
}

/** KEKRecipientInfo ([2]) with AES key wrap under `kek`. */
export async function kekRecipient(keyId: Uint8Array, kek: Uint8Array, cek: Uint8Array): Promise<Uint8Array> {
  const wrapOid = { 16: '2.16.840.1.101.3.4.1.5', 24: '2.16.840.1.101.3.4.1.25', 32: OIDS.aes256Wrap }[
    kek.length
  ]!;
  return tlv(
    0xa2,
    concatBytes([derInteger(4), seq(octet(keyId)), alg(wrapOid), octet(await aesKeyWrap(kek, cek))]),
  );
}

/**
 * EnvelopedData (AES-256-CBC) or AuthEnvelopedData (AES-256-GCM or ChaCha20-Poly1305) of `content`
 * with the RecipientInfos `recipients(cek)` makes.
 */
export async function envelope(
  content: Uint8Array,
  recipients: (cek: Uint8Array) => Promise<Uint8Array[]>,
  cipher: 'aes-256-cbc' | 'aes-256-gcm' | 'chacha20-poly1305' = 'aes-256-cbc',
): Promise<Uint8Array> {
  const cek = new Uint8Array(randomBytes(32));
  const ris = set(...(await recipients(cek)));
  if (cipher === 'aes-256-cbc') {
    const iv = randomBytes(16);
    const c = createCipheriv('aes-256-cbc', cek, iv);
    const ct = Buffer.concat([c.update(content), c.final()]);
    const eci = seq(oidDer(OIDS.data), alg(OIDS.aes256Cbc, octet(iv)), tlv(0x80, ct));
    return seq(oidDer(OIDS.envelopedData), explicit(0, seq(derInteger(3), ris, eci)));
  }
  const nonce = randomBytes(12);
  let ct: Uint8Array;
  let mac: Uint8Array;
  let algorithm: Uint8Array;
  if (cipher === 'aes-256-gcm') {
    const c = createCipheriv('aes-256-gcm', cek, nonce);
    ct = Buffer.concat([c.update(content), c.final()]);
    mac = c.getAuthTag();
    algorithm = alg(OIDS.aes256Gcm, seq(octet(nonce), derInteger(16)));
  } else {
    const c = createCipheriv('chacha20-poly1305', cek, nonce, { authTagLength: 16 });
    ct = Buffer.concat([c.update(content), c.final()]);
    mac = c.getAuthTag();
    algorithm = alg(OIDS.chacha, octet(nonce));
  }
  const eci = seq(oidDer(OIDS.data), algorithm, tlv(0x80, ct));
  return seq(oidDer(OIDS.authEnvelopedData), explicit(0, seq(derInteger(0), ris, eci, octet(mac))));
}
