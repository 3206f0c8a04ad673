/**
 * KEMRecipientInfo (RFC 9629) with ML-KEM-512/768/1024 (FIPS 203; RFC 9936 for CMS): post-quantum
 * key establishment in EnvelopedData and AuthEnvelopedData. It travels as an OtherRecipientInfo:
 *
 *   RecipientInfo ::= CHOICE { …, ori [4] OtherRecipientInfo }
 *   OtherRecipientInfo ::= SEQUENCE { oriType id-ori-kem, oriValue KEMRecipientInfo }
 *   KEMRecipientInfo ::= SEQUENCE {
 *     version CMSVersion,  -- always 0
 *     rid RecipientIdentifier,
 *     kem KEMAlgorithmIdentifier,
 *     kemct OCTET STRING,
 *     kdf KeyDerivationAlgorithmIdentifier,
 *     kekLength INTEGER (1..65535),
 *     ukm [0] EXPLICIT UserKeyingMaterial OPTIONAL,
 *     wrap KeyEncryptionAlgorithmIdentifier,
 *     encryptedKey EncryptedKey }
 *
 * The recipient decapsulates kemct into a shared secret, derives the KEK with the KDF over
 * CMSORIforKEMOtherInfo, and unwraps the content-encryption key. ML-KEM rejects implicitly: an
 * altered kemct yields an unrelated secret, so every failure after the private key is found looks
 * the same (integrity-failure) — there is nothing to tell them apart by.
 *
 * `buildKemRecipientInfo` makes one (for a certificate with an ML-KEM key): the building block for
 * composing and encrypting to post-quantum recipients, and what tests use to make altered copies.
 */
import { concatBytes } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import { integrityFailure } from './failures.ts';
import type { SmimePrivateEntry } from '../keyring.ts';
import type { RecipientDescription } from '../report.ts';
import {
  CONTEXT,
  T,
  UNIVERSAL,
  algorithm,
  children,
  content,
  expect,
  is,
  oid,
  raw,
  readTlv,
  smallInteger,
  type Tlv,
} from './ber.ts';
import { parseCertificate } from './certs.ts';
import { certIds, describeCmsId, matches, readCmsId, type CmsId } from './ids.ts';
import { HKDF_KDFS, hkdf, kemOtherInfo, tlv } from './kdf.ts';
import { aesKeyUnwrap, aesKeyWrap } from './keywrap.ts';
import { readModernPrivateKey } from './modern-keys.ts';
import { spkiParts } from './modern-signatures.ts';
import { KEY_WRAPS, ML_KEM, OID, algorithmName } from './oids.ts';

export const ID_ORI_KEM = '1.2.840.113549.1.9.16.13.3';

interface KemRecipient {
  rid: CmsId;
  kem: string;
  kemct: Uint8Array;
  kdf: { oid: string; params: Tlv | null };
  kekLength: number;
  ukm: Uint8Array | null;
  /** The DER of the wrap AlgorithmIdentifier, as CMSORIforKEMOtherInfo repeats it. */
  wrapDer: Uint8Array;
  wrap: string;
  encryptedKey: Uint8Array;
}

/** True for an [4] OtherRecipientInfo holding a KEMRecipientInfo. */
export function isKemRecipient(der: Uint8Array, ri: Tlv): boolean {
  if (!is(ri, CONTEXT, 4)) return false;
  const [type] = children(der, ri);
  return is(type, UNIVERSAL, T.OID) && oid(der, type) === ID_ORI_KEM;
}

function readKemRecipient(der: Uint8Array, ri: Tlv): KemRecipient {
  const [, value] = children(der, ri);
  const f = children(der, expect(value, UNIVERSAL, T.SEQUENCE, 'KEMRecipientInfo'));
  if (smallInteger(der, f[0]!) !== 0)
    throw new SealpostError('malformed', 'The KEMRecipientInfo has an unknown version.');
  const rid = is(f[1], CONTEXT, 0) ? { ski: content(der, f[1]) } : readCmsId(der, f[1]!);
  const kem = algorithm(der, f[2]!).oid;
  const kemct = content(der, expect(f[3], UNIVERSAL, T.OCTET_STRING, 'kemct'));
  const kdf = algorithm(der, f[4]!);
  const kekLength = smallInteger(der, f[5]!);
  let j = 6;
  let ukm: Uint8Array | null = null;
  if (is(f[j], CONTEXT, 0)) {
    ukm = content(der, expect(children(der, f[j]!)[0], UNIVERSAL, T.OCTET_STRING, 'ukm'));
    j++;
  }
  const wrapTlv = expect(f[j], UNIVERSAL, T.SEQUENCE, 'wrap');
  const encryptedKey = content(der, expect(f[j + 1], UNIVERSAL, T.OCTET_STRING, 'encryptedKey'));
  return {
    rid,
    kem,
    kemct,
    kdf,
    kekLength,
    ukm,
    wrapDer: raw(der, wrapTlv),
    wrap: algorithm(der, wrapTlv).oid,
    encryptedKey,
  };
}

export function describeKemRecipient(der: Uint8Array, ri: Tlv): RecipientDescription {
  const r = readKemRecipient(der, ri);
  const kdf = HKDF_KDFS[r.kdf.oid]?.name ?? algorithmName(r.kdf.oid);
  return {
    type: 'key-encapsulation',
    algorithm: `${ML_KEM[r.kem]?.name ?? algorithmName(r.kem)} (${kdf})`,
    ...describeCmsId(r.rid),
  };
}

/**
 * Recovers the content-encryption key with one of `entries` (a key whose certificate the rid names
 * and whose key is ML-KEM); null when none of them is the recipient.
 */
export async function openKemRecipient(
  der: Uint8Array,
  ri: Tlv,
  entries: SmimePrivateEntry[],
  keyBytes: number,
): Promise<{ cek: Uint8Array; entry: SmimePrivateEntry } | null> {
  const r = readKemRecipient(der, ri);
  const entry = entries.find((e) => {
    try {
      return matches(r.rid, certIds(parseCertificate(e.certificate)));
    } catch {
      return false;
    }
  });
  if (!entry) return null;
  const kem = ML_KEM[r.kem];
  if (!kem)
    throw new SealpostError(
      'unsupported',
      `Key encapsulation with ${algorithmName(r.kem)} is not supported.`,
      {
        algorithm: algorithmName(r.kem),
      },
    );
  const kdf = HKDF_KDFS[r.kdf.oid];
  if (!kdf)
    throw new SealpostError(
      'unsupported',
      `Key derivation with ${algorithmName(r.kdf.oid)} is not supported.`,
      {
        algorithm: algorithmName(r.kdf.oid),
      },
    );
  const wrap = KEY_WRAPS[r.wrap];
  if (!wrap)
    throw new SealpostError('unsupported', `Key wrap with ${algorithmName(r.wrap)} is not supported.`, {
      algorithm: algorithmName(r.wrap),
    });
  if (r.kekLength !== wrap.keyBytes)
    throw new SealpostError('malformed', `The KEK length (${r.kekLength}) does not fit ${wrap.name}.`);
  const key = await readModernPrivateKey(entry.pkcs8);
  if (key?.kind !== 'ml-kem' || key.oid !== r.kem)
    throw new SealpostError(
      'unsupported',
      `The message is encrypted to ${kem.name}, but the key for this certificate is not an ${kem.name} key.`,
      { algorithm: kem.name },
    );
  const lib = (await import('@noble/post-quantum/ml-kem.js'))[kem.set];
  if (r.kemct.length !== lib.lengths.cipherText) throw integrityFailure();
  const ss = lib.decapsulate(r.kemct, key.secretKey);
  const kek = await hkdf(kdf.hash, ss, kemOtherInfo(r.wrapDer, r.kekLength, r.ukm), r.kekLength);
  const cek = await aesKeyUnwrap(kek, r.encryptedKey);
  if (!cek || cek.length !== keyBytes) throw integrityFailure();
  return { cek, entry };
}

const DER_NULL_FREE_ALG = (id: string): Uint8Array => tlv(0x30, oidDer(id));

/** DER of an OBJECT IDENTIFIER. */
export function oidDer(id: string): Uint8Array {
  const parts = id.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const bytes = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/**
 * A KEMRecipientInfo (as the [4] OtherRecipientInfo choice of RecipientInfo, DER) that carries `cek`
 * to the holder of the ML-KEM key in `certificate`: HKDF-SHA256 and AES key wrap of the KEK size
 * (AES-256 by default), identified by issuer and serial number (or the subject key identifier).
 */
export async function buildKemRecipientInfo(
  certificate: Uint8Array,
  cek: Uint8Array,
  opts: { ukm?: Uint8Array; kekBytes?: 16 | 24 | 32; bySki?: boolean; kdf?: string } = {},
): Promise<Uint8Array> {
  const p = parseCertificate(certificate);
  const spki = spkiParts(new Uint8Array(p.cert.subjectPublicKeyInfo.toSchema().toBER(false)));
  const kem = ML_KEM[spki.oid];
  if (!kem)
    throw new SealpostError('unsupported', 'The certificate does not hold an ML-KEM key.', {
      algorithm: spki.oid,
    });
  const lib = (await import('@noble/post-quantum/ml-kem.js'))[kem.set];
  const { cipherText, sharedSecret } = lib.encapsulate(spki.key);
  const kekBytes = opts.kekBytes ?? 32;
  const wrapOid = { 16: OID.aes128Wrap, 24: OID.aes192Wrap, 32: OID.aes256Wrap }[kekBytes];
  const wrapDer = DER_NULL_FREE_ALG(wrapOid);
  const kdfOid = opts.kdf ?? '1.2.840.113549.1.9.16.3.28';
  const kdf = HKDF_KDFS[kdfOid];
  if (!kdf) throw new SealpostError('unsupported', `Key derivation with ${kdfOid} is not supported.`);
  const ukm = opts.ukm ?? null;
  const kek = await hkdf(kdf.hash, sharedSecret, kemOtherInfo(wrapDer, kekBytes, ukm), kekBytes);
  const encryptedKey = await aesKeyWrap(kek, cek);
  const ids = certIds(p);
  let rid: Uint8Array;
  if (opts.bySki) {
    if (!ids.ski) throw new SealpostError('malformed', 'The certificate has no subject key identifier.');
    rid = tlv(0x80, ids.ski);
  } else {
    const [tbs] = children(p.der, readTlv(p.der, 0));
    const tf = children(p.der, tbs!);
    const k = is(tf[0], CONTEXT, 0) ? 1 : 0;
    rid = tlv(0x30, concatBytes([raw(p.der, tf[k + 2]!), raw(p.der, tf[k]!)]));
  }
  const value = tlv(
    0x30,
    concatBytes([
      tlv(0x02, Uint8Array.of(0)),
      rid,
      DER_NULL_FREE_ALG(spki.oid),
      tlv(0x04, cipherText),
      DER_NULL_FREE_ALG(kdfOid),
      tlv(0x02, Uint8Array.of(kekBytes)),
      ...(ukm ? [tlv(0xa0, tlv(0x04, ukm))] : []),
      wrapDer,
      tlv(0x04, encryptedKey),
    ]),
  );
  return tlv(0xa4, concatBytes([oidDer(ID_ORI_KEM), value]));
}
