/**
 * Writes CMS: SignedData (RFC 5652) and EnvelopedData / AuthEnvelopedData (RFC 5652, RFC 5083) with
 * KeyTransRecipientInfo (RSA-OAEP SHA-256, RSA PKCS#1 v1.5), KeyAgreeRecipientInfo (ECDH, RFC 5753),
 * KEMRecipientInfo (ML-KEM, RFC 9629, kem-recipient.ts) and PasswordRecipientInfo (RFC 3211).
 *
 * Straight DER written field by field with the same helpers core reads CMS with: PKI.js's writers
 * cannot do PKCS#1 v1.5 key transport, PWRI with AES-256-GCM content, or KEMRecipientInfo, and its
 * ECDH path fixes the KDF; every primitive still comes from WebCrypto or @noble (key wrap, ML-KEM).
 * The one primitive written here is RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1), which WebCrypto
 * lacks: a padding and one modular exponentiation with the public key.
 */
import { concatBytes, toArrayBuffer } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import { CONTEXT, children, is, raw, readTlv, T, UNIVERSAL, content } from './ber.ts';
import { modPow, toBigInt, toBytes } from './bigint.ts';
import { parseCertificate, type ParsedCertificate } from './certs.ts';
import { eccCmsSharedInfo, tlv, x963Kdf, derInteger } from './kdf.ts';
import { buildKemRecipientInfo, oidDer } from './kem-recipient.ts';
import { aesKeyWrap } from './keywrap.ts';
import { spkiParts } from './modern-signatures.ts';
import { CURVES, ML_KEM, OID } from './oids.ts';

const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concatBytes(parts));
const set = (...parts: Uint8Array[]): Uint8Array => tlv(0x31, concatBytes(parts));
const octet = (b: Uint8Array): Uint8Array => tlv(0x04, b);
const NULL = Uint8Array.of(0x05, 0x00);
const alg = (id: string, params?: Uint8Array): Uint8Array => seq(oidDer(id), ...(params ? [params] : []));

const SHA256 = '2.16.840.1.101.3.4.2.1';
const SHA256_RSA = '1.2.840.113549.1.1.11';
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const SMIME_CAPABILITIES = '1.2.840.113549.1.9.15';
const HMAC_SHA256 = '1.2.840.113549.2.9';
const ECDH_SHA256_KDF = '1.3.132.1.11.1';
const PWRI_ITERATIONS = 200_000;

/** A signer: certificate (DER), the rest of its chain (DER) and its PKCS#8 private key (a keyring SmimePrivateEntry fits). */
export interface CmsSigner {
  certificate: Uint8Array;
  chain?: readonly Uint8Array[];
  pkcs8: Uint8Array;
}

/**
 * A recipient certificate and what its software is known to accept (from its SMIMECapabilities or
 * the operator): `rsaPadding` for RSA keys (default: OAEP when the certificate's key is id-RSAES-OAEP,
 * else PKCS#1 v1.5, which every S/MIME client reads); `gcm` true when it reads AES-GCM AuthEnvelopedData.
 */
export interface CmsRecipient {
  certificate: Uint8Array;
  rsaPadding?: 'oaep' | 'pkcs1';
  gcm?: boolean;
}

export interface EnvelopeOptions {
  recipients: readonly CmsRecipient[];
  /** Password recipients (PWRI, PBKDF2-HMAC-SHA256, AES-256 KEK). */
  passwords?: readonly string[];
  /** 'auto' (default): AES-256-GCM when every certificate recipient has gcm: true, else AES-256-CBC. */
  contentEncryption?: 'auto' | 'aes-256-gcm' | 'aes-256-cbc';
}

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function positiveInteger(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? concatBytes([Uint8Array.of(0), v]) : v);
}

function issuerAndSerial(p: ParsedCertificate): Uint8Array {
  const [tbs] = children(p.der, readTlv(p.der, 0));
  const tf = children(p.der, tbs!);
  const k = is(tf[0], CONTEXT, 0) ? 1 : 0;
  return seq(raw(p.der, tf[k + 2]!), raw(p.der, tf[k]!));
}

function spkiOf(p: ParsedCertificate): Uint8Array {
  return new Uint8Array(p.cert.subjectPublicKeyInfo.toSchema().toBER(false));
}

function curveOf(p: ParsedCertificate): { webcrypto: string; bytes: number } | null {
  const params = p.cert.subjectPublicKeyInfo.algorithm.algorithmParams as
    { valueBlock?: { toString(): string } } | undefined;
  const id = params?.valueBlock?.toString();
  return (id && CURVES[id]) || null;
}

function unsupportedKey(what: string): SealpostError {
  return new SealpostError('unsupported', `Sealpost cannot ${what} with this certificate's key type.`);
}

/** The modulus and exponent of an RSAPublicKey (the SPKI bit string's content). */
function rsaPublic(key: Uint8Array): { n: Uint8Array; e: Uint8Array } {
  const [n, e] = children(key, readTlv(key, 0));
  if (!is(n, UNIVERSAL, T.INTEGER) || !is(e, UNIVERSAL, T.INTEGER))
    throw new SealpostError('malformed', 'The RSA public key is malformed.');
  return { n: content(key, n), e: content(key, e) };
}

async function rsaOaepEncrypt(spkiKey: Uint8Array, cek: Uint8Array): Promise<Uint8Array> {
  // WebCrypto imports only rsaEncryption SPKIs: re-wrap the key (it may be labelled id-RSAES-OAEP).
  const spki = seq(alg(OID.rsaEncryption, NULL), tlv(0x03, concatBytes([Uint8Array.of(0), spkiKey])));
  const key = await crypto.subtle.importKey(
    'spki',
    toArrayBuffer(spki),
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    false,
    ['encrypt'],
  );
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, toArrayBuffer(cek)));
}

/** RSAES-PKCS1-v1_5 encryption, RFC 8017 §7.2.1 (not in WebCrypto). */
function rsaPkcs1Encrypt(spkiKey: Uint8Array, m: Uint8Array): Uint8Array {
  const { n, e } = rsaPublic(spkiKey);
  const nn = toBigInt(n);
  const k = Math.ceil(nn.toString(16).length / 2);
  if (m.length > k - 11) throw new SealpostError('malformed', 'The RSA key is too small.');
  const ps = new Uint8Array(k - m.length - 3);
  for (let i = 0; i < ps.length; i++) {
    let b = 0;
    while (b === 0) b = random(1)[0]!;
    ps[i] = b;
  }
  const em = concatBytes([Uint8Array.of(0, 2), ps, Uint8Array.of(0), m]);
  return toBytes(modPow(toBigInt(em), toBigInt(e), nn), k);
}

async function keyTransRecipient(
  p: ParsedCertificate,
  r: CmsRecipient,
  cek: Uint8Array,
  spki: { oid: string; key: Uint8Array },
): Promise<Uint8Array> {
  const oaep = r.rsaPadding ? r.rsaPadding === 'oaep' : spki.oid === OID.rsaOaep;
  let keyAlg: Uint8Array;
  let encrypted: Uint8Array;
  if (oaep) {
    // RSAES-OAEP-params (RFC 4055): SHA-256, MGF1 with SHA-256, empty label.
    keyAlg = alg(OID.rsaOaep, seq(tlv(0xa0, alg(SHA256, NULL)), tlv(0xa1, alg(OID.mgf1, alg(SHA256, NULL)))));
    encrypted = await rsaOaepEncrypt(spki.key, cek);
  } else {
    keyAlg = alg(OID.rsaEncryption, NULL);
    encrypted = rsaPkcs1Encrypt(spki.key, cek);
  }
  return seq(derInteger(0), issuerAndSerial(p), keyAlg, octet(encrypted));
}

/** KeyAgreeRecipientInfo (RFC 5753): ephemeral-static ECDH, X9.63 KDF with SHA-256, AES-256 key wrap. */
async function keyAgreeRecipient(
  p: ParsedCertificate,
  spkiDer: Uint8Array,
  cek: Uint8Array,
): Promise<Uint8Array> {
  const curve = curveOf(p);
  if (!curve) throw unsupportedKey('agree a key');
  const pub = await crypto.subtle.importKey(
    'spki',
    toArrayBuffer(spkiDer),
    { name: 'ECDH', namedCurve: curve.webcrypto },
    false,
    [],
  );
  const eph = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: curve.webcrypto }, true, [
    'deriveBits',
  ])) as CryptoKeyPair;
  const z = new Uint8Array(
    await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, eph.privateKey, curve.bytes * 8),
  );
  const ephPoint = new Uint8Array(await crypto.subtle.exportKey('raw', eph.publicKey));
  const wrapAlg = alg(OID.aes256Wrap);
  const kek = await x963Kdf('SHA-256', z, eccCmsSharedInfo(wrapAlg, null, 32), 32);
  const wrapped = await aesKeyWrap(kek, cek);
  const originatorKey = tlv(
    0xa1,
    concatBytes([alg(OID.ecPublicKey), tlv(0x03, concatBytes([Uint8Array.of(0), ephPoint]))]),
  );
  return tlv(
    0xa1,
    concatBytes([
      derInteger(3),
      tlv(0xa0, originatorKey),
      alg(ECDH_SHA256_KDF, wrapAlg),
      seq(seq(issuerAndSerial(p), octet(wrapped))),
    ]),
  );
}

async function aesCbcRaw(key: CryptoKey, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  // WebCrypto always pads: the padding block comes last, so dropping it leaves plain CBC.
  const out = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-CBC', iv: toArrayBuffer(iv) }, key, toArrayBuffer(data)),
  );
  return out.subarray(0, data.length);
}

/** PasswordRecipientInfo (RFC 3211): PBKDF2-HMAC-SHA256, id-alg-PWRI-KEK with AES-256-CBC. */
async function passwordRecipient(password: string, cek: Uint8Array): Promise<Uint8Array> {
  const salt = random(16);
  const base = await crypto.subtle.importKey(
    'raw',
    toArrayBuffer(new TextEncoder().encode(password)),
    'PBKDF2',
    false,
    ['deriveBits'],
  );
  const kekBytes = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'PBKDF2', salt: toArrayBuffer(salt), iterations: PWRI_ITERATIONS, hash: 'SHA-256' },
      base,
      256,
    ),
  );
  const kek = await crypto.subtle.importKey('raw', toArrayBuffer(kekBytes), 'AES-CBC', false, ['encrypt']);
  // RFC 3211 §2.3.1: length, check bytes, key, random padding to whole blocks (at least two).
  const head = concatBytes([Uint8Array.of(cek.length, cek[0]! ^ 0xff, cek[1]! ^ 0xff, cek[2]! ^ 0xff), cek]);
  const total = Math.max(32, Math.ceil(head.length / 16) * 16);
  const block = concatBytes([head, random(total - head.length)]);
  const iv = random(16);
  const first = await aesCbcRaw(kek, iv, block);
  const encrypted = await aesCbcRaw(kek, first.subarray(first.length - 16), first);
  const pbkdf2Params = seq(octet(salt), derInteger(PWRI_ITERATIONS), derInteger(32), alg(HMAC_SHA256, NULL));
  return tlv(
    0xa3,
    concatBytes([
      derInteger(0),
      tlv(0xa0, concatBytes([oidDer(OID.pbkdf2), pbkdf2Params])),
      alg(OID.pwriKek, alg(OID.aes256Cbc, octet(iv))),
      octet(encrypted),
    ]),
  );
}

async function recipientInfo(
  r: CmsRecipient,
  cek: Uint8Array,
): Promise<{ der: Uint8Array; kind: 'ktri' | 'kari' | 'ori' }> {
  const p = parseCertificate(r.certificate);
  const spkiDer = spkiOf(p);
  const spki = spkiParts(spkiDer);
  if (spki.oid === OID.rsaEncryption || spki.oid === OID.rsaOaep)
    return { der: await keyTransRecipient(p, r, cek, spki), kind: 'ktri' };
  if (spki.oid === OID.ecPublicKey) return { der: await keyAgreeRecipient(p, spkiDer, cek), kind: 'kari' };
  if (ML_KEM[spki.oid]) return { der: await buildKemRecipientInfo(r.certificate, cek), kind: 'ori' };
  throw unsupportedKey('encrypt');
}

/**
 * EnvelopedData (AES-256-CBC) or AuthEnvelopedData (AES-256-GCM) around `content`, as a DER
 * ContentInfo. Returns which one it chose.
 */
export async function buildEnvelopedCms(
  data: Uint8Array,
  options: EnvelopeOptions,
): Promise<{ der: Uint8Array; gcm: boolean }> {
  const passwords = options.passwords ?? [];
  if (options.recipients.length === 0 && passwords.length === 0)
    throw new SealpostError('malformed', 'A message needs at least one recipient certificate or password.');
  const mode = options.contentEncryption ?? 'auto';
  const gcm =
    mode === 'aes-256-gcm' ||
    (mode === 'auto' && options.recipients.length > 0 && options.recipients.every((r) => r.gcm === true));
  const cek = random(32);
  const infos: Uint8Array[] = [];
  let version = 0;
  for (const r of options.recipients) {
    const ri = await recipientInfo(r, cek);
    infos.push(ri.der);
    if (ri.kind === 'kari') version = Math.max(version, 2);
    if (ri.kind === 'ori') version = 3;
  }
  for (const pw of passwords) {
    infos.push(await passwordRecipient(pw, cek));
    version = 3;
  }
  const key = await crypto.subtle.importKey('raw', toArrayBuffer(cek), gcm ? 'AES-GCM' : 'AES-CBC', false, [
    'encrypt',
  ]);
  if (gcm) {
    const nonce = random(12);
    const out = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: toArrayBuffer(nonce), tagLength: 128 },
        key,
        toArrayBuffer(data),
      ),
    );
    const ct = out.subarray(0, out.length - 16);
    const tag = out.subarray(out.length - 16);
    const body = seq(
      derInteger(0),
      set(...infos),
      seq(oidDer(OID.data), alg(OID.aes256Gcm, seq(octet(nonce), derInteger(16))), tlv(0x80, ct)),
      octet(tag),
    );
    return { der: seq(oidDer(OID.authEnvelopedData), tlv(0xa0, body)), gcm };
  }
  const iv = random(16);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-CBC', iv: toArrayBuffer(iv) }, key, toArrayBuffer(data)),
  );
  const body = seq(
    derInteger(version),
    set(...infos),
    seq(oidDer(OID.data), alg(OID.aes256Cbc, octet(iv)), tlv(0x80, ct)),
  );
  return { der: seq(oidDer(OID.envelopedData), tlv(0xa0, body)), gcm };
}

function utcTime(d: Date): Uint8Array {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, new TextEncoder().encode(s));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SMIMECapabilities (RFC 8551 §2.5.2) Sealpost reads, preferred first. */
function capabilities(): Uint8Array {
  return seq(
    alg(OID.aes256Gcm),
    alg(OID.aes128Gcm),
    alg(OID.aes256Cbc),
    alg(OID.aes128Cbc),
    alg(OID.rsaOaep),
  );
}

/** ECDSA signatures come from WebCrypto as r‖s; CMS wants Ecdsa-Sig-Value (DER). */
function ecdsaDer(sig: Uint8Array): Uint8Array {
  const half = sig.length / 2;
  return seq(positiveInteger(sig.subarray(0, half)), positiveInteger(sig.subarray(half)));
}

/** SignedData (encapsulated, SHA-256) over `data`, signed by `signer`, with its chain; DER ContentInfo. */
export async function buildSignedCms(
  data: Uint8Array,
  signer: CmsSigner,
  options: { signingTime?: Date } = {},
): Promise<Uint8Array> {
  const p = parseCertificate(signer.certificate);
  const spki = spkiParts(spkiOf(p));
  let key: CryptoKey;
  let sigAlg: Uint8Array;
  let ec = false;
  if (spki.oid === OID.rsaEncryption) {
    key = await crypto.subtle.importKey(
      'pkcs8',
      toArrayBuffer(signer.pkcs8),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    sigAlg = alg(SHA256_RSA, NULL);
  } else if (spki.oid === OID.ecPublicKey) {
    const curve = curveOf(p);
    if (!curve) throw unsupportedKey('sign');
    key = await crypto.subtle.importKey(
      'pkcs8',
      toArrayBuffer(signer.pkcs8),
      { name: 'ECDSA', namedCurve: curve.webcrypto },
      false,
      ['sign'],
    );
    sigAlg = alg(ECDSA_SHA256);
    ec = true;
  } else {
    throw unsupportedKey('sign');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', toArrayBuffer(data)));
  const attrs = [
    seq(oidDer(OID.contentType), set(oidDer(OID.data))),
    seq(oidDer(OID.signingTime), set(utcTime(options.signingTime ?? new Date()))),
    seq(oidDer(OID.messageDigest), set(octet(digest))),
    seq(oidDer(SMIME_CAPABILITIES), set(capabilities())),
  ].sort(compareBytes); // DER SET OF order: the signature covers this encoding
  const signedAttrs = set(...attrs);
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      ec ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' },
      key,
      toArrayBuffer(signedAttrs),
    ),
  );
  const signature = ec ? ecdsaDer(raw) : raw;
  const signerInfo = seq(
    derInteger(1),
    issuerAndSerial(p),
    alg(SHA256, NULL),
    tlv(0xa0, signedAttrs.subarray(signedAttrs.length - contentLength(signedAttrs))),
    sigAlg,
    octet(signature),
  );
  const certs = [signer.certificate, ...(signer.chain ?? [])];
  const body = seq(
    derInteger(1),
    set(alg(SHA256, NULL)),
    seq(oidDer(OID.data), tlv(0xa0, octet(data))),
    tlv(0xa0, concatBytes(certs)),
    set(signerInfo),
  );
  return seq(oidDer(OID.signedData), tlv(0xa0, body));
}

function contentLength(der: Uint8Array): number {
  const t = readTlv(der, 0);
  return content(der, t).length;
}
