/**
 * Signature checks WebCrypto cannot do, with BigInt arithmetic (public-key operations only, so no
 * secret is involved): RSA PKCS#1 v1.5 with MD5, and DSA (RFC 4134's examples; old mail). Neither is
 * ever reported as `valid` — they only tell an intact old signature from an altered one.
 */
import type * as pkijs from 'pkijs';
import { toHex } from '../bytes.ts';
import { modInverse, modPow, toBigInt as toBig } from './bigint.ts';
import { T, UNIVERSAL, children, content, expect, readTlv } from './ber.ts';

function publicKeyBits(cert: pkijs.Certificate): Uint8Array {
  return new Uint8Array(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
}

const DIGEST_INFO_PREFIX: Record<string, string> = {
  MD5: '3020300c06082a864886f70d020505000410',
  'SHA-1': '3021300906052b0e03021a05000414',
};

/** RSASSA-PKCS1-v1_5 verification of a precomputed digest (EMSA-PKCS1-v1_5 encoding compared whole). */
export function verifyRsaPkcs1Raw(
  cert: pkijs.Certificate,
  hashName: string,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  const prefix = DIGEST_INFO_PREFIX[hashName];
  if (!prefix) return false;
  const key = publicKeyBits(cert);
  const [n, e] = children(key, readTlv(key, 0));
  const modulus = toBig(content(key, n!));
  const exponent = toBig(content(key, e!));
  let k = modulus.toString(16).length;
  k = Math.ceil(k / 2);
  if (signature.length !== k) return false;
  const s = toBig(signature);
  if (s >= modulus) return false;
  const em = modPow(s, exponent, modulus)
    .toString(16)
    .padStart(k * 2, '0');
  const t = prefix + toHex(digest);
  const expected = '0001' + 'ff'.repeat(k - 3 - t.length / 2) + '00' + t;
  return em === expected;
}

/** DSA verification (FIPS 186) with the domain parameters in the certificate. */
export function verifyDsa(
  cert: pkijs.Certificate,
  digest: Uint8Array,
  signature: Uint8Array,
  issuer: pkijs.Certificate | null,
): boolean | 'unsupported' {
  type Params = { toBER?: (s: boolean) => ArrayBuffer; idBlock?: { tagNumber?: number } } | undefined;
  const own = cert.subjectPublicKeyInfo.algorithm.algorithmParams as Params;
  // RFC 3279 §2.3.2: absent parameters are inherited from the issuer's DSA key.
  const params =
    own?.toBER && own.idBlock?.tagNumber === 16
      ? own
      : (issuer?.subjectPublicKeyInfo.algorithm.algorithmParams as Params);
  if (!params?.toBER || params.idBlock?.tagNumber !== 16) return 'unsupported';
  const pder = new Uint8Array(params.toBER(false));
  let p: bigint, q: bigint, g: bigint;
  try {
    const [pt, qt, gt] = children(pder, expect(readTlv(pder, 0), UNIVERSAL, T.SEQUENCE, 'Dss-Parms'));
    p = toBig(content(pder, pt!));
    q = toBig(content(pder, qt!));
    g = toBig(content(pder, gt!));
  } catch {
    return false;
  }
  const ybits = publicKeyBits(cert);
  const y = toBig(content(ybits, readTlv(ybits, 0)));
  const seq = readTlv(signature, 0);
  const [rt, st] = children(signature, seq);
  const r = toBig(content(signature, rt!));
  const s = toBig(content(signature, st!));
  if (r <= 0n || r >= q || s <= 0n || s >= q) return false;
  const w = modInverse(s, q);
  if (w === null) return false;
  const qBytes = Math.ceil(q.toString(16).length / 2);
  const z = toBig(digest.subarray(0, Math.min(digest.length, qBytes)));
  const u1 = (z * w) % q;
  const u2 = (r * w) % q;
  const v = ((modPow(g, u1, p) * modPow(y, u2, p)) % p) % q;
  return v === r;
}
