/**
 * Signature algorithms beyond WebCrypto's classic set: EdDSA (Ed25519, Ed448 — RFC 8410, RFC 8419),
 * ML-DSA (FIPS 204; RFC 9881 in certificates, RFC 9882 in CMS) and SLH-DSA (FIPS 205; RFC 9909,
 * RFC 9814), each pure or pre-hash ("HashML-DSA", "HashSLH-DSA", FIPS 204 §5.4 / FIPS 205 §10.2).
 *
 * Ed25519 goes through WebCrypto where the runtime has it (Node 20, Chromium 137+) and through
 * @noble/curves where it does not; Ed448, ML-DSA and SLH-DSA through the audited noble libraries
 * (@noble/curves, @noble/post-quantum). Each is imported only when a signature needs it, so a
 * message signed with RSA never loads them.
 *
 * Used in two places: SignerInfo signatures (signed.ts) and certificate signatures during path
 * validation, where `ModernCryptoEngine` stands in for PKI.js's engine (whose WebCrypto mapping
 * knows none of these algorithms, so an Ed25519 or ML-DSA chain never validated).
 */
import type { CHash } from '@noble/hashes/utils.js';
import type { SphincsSigner } from '@noble/post-quantum/slh-dsa.js';
import type { Signer } from '@noble/post-quantum/utils.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { bufferSource, toArrayBuffer } from '../bytes.ts';
import { T, UNIVERSAL, algorithm, children, content, expect, readTlv } from './ber.ts';
import { MODERN_SIGNATURES, OID } from './oids.ts';

export function isModernSignature(oid: string): boolean {
  return oid in MODERN_SIGNATURES;
}

/** SubjectPublicKeyInfo (DER) → its algorithm OID and the raw key (BIT STRING without unused bits). */
export function spkiParts(spki: Uint8Array): { oid: string; key: Uint8Array; hasParams: boolean } {
  const [alg, bits] = children(spki, readTlv(spki, 0));
  const a = algorithm(spki, alg!);
  const b = content(spki, expect(bits, UNIVERSAL, T.BIT_STRING, 'subjectPublicKey'));
  if (b[0] !== 0) throw new Error('a public key with unused bits');
  return { oid: a.oid, key: b.subarray(1), hasParams: a.params !== null };
}

type Hash = 'SHA-256' | 'SHA-512' | 'SHAKE128' | 'SHAKE256';

async function prehashFunction(hash: Hash): Promise<CHash> {
  if (hash === 'SHA-256' || hash === 'SHA-512') {
    const { sha256, sha512 } = await import('@noble/hashes/sha2.js');
    return hash === 'SHA-256' ? sha256 : sha512;
  }
  // FIPS 205 §10.2.1: SHAKE128 with 256 bits of output, SHAKE256 with 512.
  const { shake128_32, shake256_64 } = await import('@noble/hashes/sha3.js');
  return hash === 'SHAKE128' ? shake128_32 : shake256_64;
}

async function ed25519Verify(key: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  let webKey: CryptoKey | null = null;
  try {
    webKey = await crypto.subtle.importKey('raw', toArrayBuffer(key), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    // Not in this runtime (older browsers) — or a malformed key, which noble rejects below as well.
  }
  if (webKey)
    return crypto.subtle.verify({ name: 'Ed25519' }, webKey, bufferSource(signature), bufferSource(data));
  const { ed25519 } = await import('@noble/curves/ed25519.js');
  return ed25519.verify(signature, data, key, { zip215: false });
}

/**
 * Verifies `signature` over `data` with the key in `spki`. Returns 'unsupported' for an algorithm
 * this module does not know; false for a bad signature, a malformed key, or a key whose algorithm
 * does not fit the signature's (an ML-DSA-44 key cannot verify an ML-DSA-65 signature, a key
 * certified for pre-hash signatures only cannot verify a pure one).
 */
export async function verifyModern(
  sigOid: string,
  spki: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean | 'unsupported'> {
  const alg = MODERN_SIGNATURES[sigOid];
  if (!alg) return 'unsupported';
  let key: Uint8Array;
  try {
    const parts = spkiParts(spki);
    // RFC 8410 §3, RFC 9881 §2, RFC 9909 §3: the parameters are absent.
    if (parts.hasParams || (parts.oid !== sigOid && parts.oid !== alg.pure)) return false;
    key = parts.key;
  } catch {
    return false;
  }
  try {
    if (alg.family === 'eddsa') {
      if (sigOid === OID.ed25519) return await ed25519Verify(key, data, signature);
      const { ed448 } = await import('@noble/curves/ed448.js');
      return ed448.verify(signature, data, key);
    }
    let signer: Signer;
    if (alg.family === 'ml-dsa') {
      const lib = await import('@noble/post-quantum/ml-dsa.js');
      const set = lib[alg.set as 'ml_dsa44' | 'ml_dsa65' | 'ml_dsa87'];
      signer = alg.prehash ? set.prehash(await prehashFunction(alg.prehash)) : set;
    } else {
      const lib = await import('@noble/post-quantum/slh-dsa.js');
      const set = (lib as unknown as Record<string, SphincsSigner>)[alg.set];
      if (!set) return 'unsupported';
      signer = alg.prehash ? set.prehash(await prehashFunction(alg.prehash)) : set;
    }
    // CMS and X.509 use the empty context string (RFC 9882 §3.3, RFC 9881 §3, RFC 9814 §4).
    return signer.verify(signature, data, key);
  } catch {
    // noble throws on wrong key or signature lengths: that is a signature that does not verify.
    return false;
  }
}

/**
 * PKI.js's crypto engine with the modern algorithms added: certificate (and CRL/OCSP) signatures
 * made with them are verified here, everything else by PKI.js as before. Passed explicitly to
 * CertificateChainValidationEngine.verify — never installed globally.
 */
export class ModernCryptoEngine extends pkijs.CryptoEngine {
  constructor() {
    super({ name: 'sealpost', crypto: globalThis.crypto });
  }

  override async verifyWithPublicKey(
    data: BufferSource,
    signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo,
    signatureAlgorithm: pkijs.AlgorithmIdentifier,
    shaAlgorithm?: string,
  ): Promise<boolean> {
    const id = signatureAlgorithm.algorithmId;
    if (!isModernSignature(id))
      return super.verifyWithPublicKey(data, signature, publicKeyInfo, signatureAlgorithm, shaAlgorithm);
    // The signature AlgorithmIdentifier must have absent parameters too (RFC 8410 §6, RFC 9881 §3).
    if (
      signatureAlgorithm.algorithmParams !== undefined &&
      !(signatureAlgorithm.algorithmParams instanceof asn1js.Null)
    )
      return false;
    const bytes =
      data instanceof Uint8Array
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data);
    const sig =
      signature instanceof asn1js.BitString
        ? signature.valueBlock.unusedBits === 0
          ? signature.valueBlock.valueHexView
          : null
        : signature.valueBlock.valueHexView;
    if (!sig) return false;
    const spki = new Uint8Array(publicKeyInfo.toSchema().toBER(false));
    return (await verifyModern(id, spki, bytes, sig)) === true;
  }
}

/** Digests WebCrypto lacks (SHA-224, SHA-3, SHAKE), by the names oids.ts gives them; null if unknown. */
export async function nobleDigest(name: string, data: Uint8Array): Promise<Uint8Array | null> {
  if (name === 'SHA-224') return (await import('@noble/hashes/sha2.js')).sha224(data);
  if (!/^SHA3-|^SHAKE/.test(name)) return null;
  const h = await import('@noble/hashes/sha3.js');
  const f = {
    'SHA3-256': h.sha3_256,
    'SHA3-384': h.sha3_384,
    'SHA3-512': h.sha3_512,
    SHAKE128: h.shake128_32,
    SHAKE256: h.shake256_64,
  }[name];
  return f ? f(data) : null;
}
