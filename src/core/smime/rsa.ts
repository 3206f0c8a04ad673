/**
 * RSA key transport for CMS.
 *
 * RSAES-PKCS1-v1_5 is our own code because nothing else can do it safely here: WebCrypto has no such
 * algorithm, Node 20 refuses it (CVE-2023-46809), and node-forge reports bad padding with an
 * exception — a padding oracle (Bleichenbacher, Marvin). This module never tells a bad padding from a
 * good one: when the padding is wrong, or the key is of the wrong length, it returns a substitute key
 * of the expected length (RFC 3218 §2.3.2), so the failure shows up later, exactly like a wrong key
 * (the content does not decrypt or fails its check). The substitute is not random but derived from
 * the private key and the ciphertext (the implicit rejection of draft-irtf-cfrg-rsa-guidance, as in
 * OpenSSL 3.2): opening the same message twice fails the same way, so repeated attempts reveal
 * nothing either. The private-key operation uses CRT with RSA blinding, and the padding check runs
 * without data-dependent branches.
 *
 * RSAES-OAEP goes through WebCrypto.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { toArrayBuffer } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import { modInverse, modPow, toBigInt, toBytes } from './bigint.ts';

export interface RsaPrivateKey {
  n: bigint;
  e: bigint;
  d: bigint;
  p: bigint;
  q: bigint;
  dp: bigint;
  dq: bigint;
  qinv: bigint;
  /** Modulus length in bytes. */
  k: number;
}

function randomBelow(n: bigint, k: number): bigint {
  for (;;) {
    const r = toBigInt(crypto.getRandomValues(new Uint8Array(k))) % n;
    if (r > 1n) return r;
  }
}

/** Reads an RSA private key from PKCS#8 DER. */
export function rsaKeyFromPkcs8(pkcs8: Uint8Array): RsaPrivateKey {
  try {
    const asn = asn1js.fromBER(toArrayBuffer(pkcs8));
    const info = new pkijs.PrivateKeyInfo({ schema: asn.result });
    const key = info.parsedKey as pkijs.RSAPrivateKey | undefined;
    if (!key) throw new Error('not an RSA key');
    const big = (i: asn1js.Integer): bigint => toBigInt(new Uint8Array(i.valueBlock.valueHexView));
    const n = big(key.modulus);
    let bits = n.toString(2).length;
    if (bits % 8 !== 0) bits += 8 - (bits % 8);
    return {
      n,
      e: big(key.publicExponent),
      d: big(key.privateExponent),
      p: big(key.prime1),
      q: big(key.prime2),
      dp: big(key.exponent1),
      dq: big(key.exponent2),
      qinv: big(key.coefficient),
      k: bits / 8,
    };
  } catch (e) {
    throw new SealpostError('malformed', 'The RSA private key could not be read.', {}, { cause: e });
  }
}

/** RSADP with CRT and blinding: m = c^d mod n. */
function rsadp(key: RsaPrivateKey, c: bigint): bigint {
  let r = randomBelow(key.n, key.k);
  let rInverse = modInverse(r, key.n);
  while (rInverse === null) {
    r = randomBelow(key.n, key.k);
    rInverse = modInverse(r, key.n);
  }
  const blinded = (c * modPow(r, key.e, key.n)) % key.n;
  const m1 = modPow(blinded % key.p, key.dp, key.p);
  const m2 = modPow(blinded % key.q, key.dq, key.q);
  const h = (key.qinv * (((m1 - m2) % key.p) + key.p)) % key.p;
  const m = m2 + h * key.q;
  return (m * rInverse) % key.n;
}

/**
 * RSAES-PKCS1-v1_5 decryption with implicit rejection: returns the encrypted message when the
 * padding is correct and the message is `expectedLength` bytes long; otherwise random bytes of
 * `expectedLength`. It never throws on the ciphertext's content.
 */
export async function rsaPkcs1v15DecryptImplicit(
  key: RsaPrivateKey,
  ciphertext: Uint8Array,
  expectedLength: number,
): Promise<Uint8Array> {
  const fallback = await syntheticKey(key, ciphertext, expectedLength);
  const k = key.k;
  if (ciphertext.length !== k || expectedLength > k - 11) return fallback;
  const c = toBigInt(ciphertext);
  if (c >= key.n) return fallback;
  const em = toBytes(rsadp(key, c), k);

  // Constant-flow padding check: EM = 0x00 || 0x02 || PS (≥ 8 non-zero bytes) || 0x00 || M.
  let good = ((em[0]! | (em[1]! ^ 2)) - 1) >>> 31; // 1 when em[0] == 0 and em[1] == 2
  let sepIndex = 0;
  let found = 0;
  for (let i = 2; i < k; i++) {
    const isZero = ((em[i]! | 0) - 1) >>> 31; // 1 when em[i] == 0
    const take = isZero & (found ^ 1);
    sepIndex = (sepIndex & ~(-take | 0)) | (i & -take);
    found |= isZero;
  }
  good &= found;
  good &= ((sepIndex - 10) >>> 31) ^ 1; // sepIndex >= 10: at least 8 bytes of PS
  const msgLength = k - sepIndex - 1;
  good &= ((msgLength ^ expectedLength) - 1) >>> 31; // 1 when the lengths are equal

  const mask = -good & 0xff;
  const out = new Uint8Array(expectedLength);
  const start = k - expectedLength;
  for (let i = 0; i < expectedLength; i++) out[i] = (em[start + i]! & mask) | (fallback[i]! & ~mask & 0xff);
  return out;
}

/**
 * The substitute for a rejected decryption: HMAC-SHA256 keyed with a key-derivation key made from
 * the private exponent, over the ciphertext and the length, expanded with a counter. Deterministic
 * per (key, ciphertext), unpredictable without the private key.
 */
async function syntheticKey(key: RsaPrivateKey, ciphertext: Uint8Array, length: number): Promise<Uint8Array> {
  const d = toBytes(key.d, key.k);
  const kdk = await crypto.subtle.digest('SHA-256', toArrayBuffer(d));
  const hmac = await crypto.subtle.importKey('raw', kdk, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const label = new TextEncoder().encode('sealpost cms implicit rejection');
  const out = new Uint8Array(length);
  for (let counter = 0, o = 0; o < length; counter++) {
    const input = new Uint8Array(label.length + 8 + ciphertext.length);
    input.set(label, 0);
    new DataView(input.buffer).setUint32(label.length, counter);
    new DataView(input.buffer).setUint32(label.length + 4, length);
    input.set(ciphertext, label.length + 8);
    const block = new Uint8Array(await crypto.subtle.sign('HMAC', hmac, input));
    out.set(block.subarray(0, Math.min(block.length, length - o)), o);
    o += block.length;
  }
  return out;
}

/** RSAES-OAEP with WebCrypto (SHA-1 or SHA-2 hash, MGF1 with the same hash, empty label). */
export async function rsaOaepDecrypt(
  pkcs8: Uint8Array,
  hash: string,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    'pkcs8',
    toArrayBuffer(pkcs8),
    { name: 'RSA-OAEP', hash },
    false,
    ['decrypt'],
  );
  return new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, toArrayBuffer(ciphertext)));
}
