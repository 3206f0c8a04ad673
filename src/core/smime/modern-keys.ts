/**
 * Private keys of the modern algorithms in PKCS#8 (RFC 5958 OneAsymmetricKey), read for use with
 * the noble libraries, and their public keys, to pair a key with its certificate.
 *
 *   ML-KEM (RFC 9935 §6, FIPS 203) and ML-DSA (RFC 9881 §6, FIPS 204): privateKey holds
 *     ML-KEM-PrivateKey / ML-DSA-PrivateKey ::= CHOICE {
 *       seed        [0] IMPLICIT OCTET STRING (SIZE (64) / (32)),
 *       expandedKey OCTET STRING,
 *       both        SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING } }
 *     "both" must agree: the expanded key is recomputed from the seed and compared.
 *   X25519, X448, Ed25519, Ed448 (RFC 8410 §7): privateKey holds CurvePrivateKey ::= OCTET STRING.
 *
 * Older drafts (and early Bouncy Castle and OpenSSL builds) put the bare seed or expanded key, or
 * one of them in an OCTET STRING, straight into privateKey: those are recognised by their lengths.
 */
import { equalBytes } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import { CONTEXT, T, UNIVERSAL, algorithm, children, content, expect, is, readTlv } from './ber.ts';
import { MODERN_SIGNATURES, ML_KEM, OID } from './oids.ts';

export type ModernKeyKind = 'ml-kem' | 'ml-dsa' | 'slh-dsa' | 'x25519' | 'x448' | 'ed25519' | 'ed448';

export interface ModernPrivateKey {
  kind: ModernKeyKind;
  /** The algorithm OID of the key (as PKCS#8 and the certificate name it). */
  oid: string;
  /** The noble parameter set ("ml_kem768", "ml_dsa44", "slh_dsa_sha2_128s"), or the curve. */
  set: string;
  /** The secret key in the form the noble libraries take (expanded for ML-KEM and ML-DSA). */
  secretKey: Uint8Array;
  /** The public key, derived from the secret (raw, as in a certificate's BIT STRING). */
  publicKey: Uint8Array;
}

const SIZES = {
  ml_kem512: { seed: 64, expanded: 1632 },
  ml_kem768: { seed: 64, expanded: 2400 },
  ml_kem1024: { seed: 64, expanded: 3168 },
  ml_dsa44: { seed: 32, expanded: 2560 },
  ml_dsa65: { seed: 32, expanded: 4032 },
  ml_dsa87: { seed: 32, expanded: 4896 },
} as const;

function bad(why: string): SealpostError {
  return new SealpostError('malformed', `The private key is not valid: ${why}.`);
}

/** PrivateKeyInfo / OneAsymmetricKey → its algorithm OID and the privateKey octets. */
export function pkcs8Parts(pkcs8: Uint8Array): { oid: string; privateKey: Uint8Array; hasParams: boolean } {
  const f = children(pkcs8, expect(readTlv(pkcs8, 0), UNIVERSAL, T.SEQUENCE, 'PrivateKeyInfo'));
  const alg = algorithm(pkcs8, expect(f[1], UNIVERSAL, T.SEQUENCE, 'privateKeyAlgorithm'));
  const key = content(pkcs8, expect(f[2], UNIVERSAL, T.OCTET_STRING, 'privateKey'));
  return { oid: alg.oid, privateKey: key, hasParams: alg.params !== null };
}

/** Splits ML-KEM-/ML-DSA-PrivateKey into seed and expanded key (either may be absent). */
function seedAndExpanded(
  bytes: Uint8Array,
  sizes: { seed: number; expanded: number },
): { seed: Uint8Array | null; expanded: Uint8Array | null } {
  if (bytes.length === sizes.seed) return { seed: bytes, expanded: null };
  if (bytes.length === sizes.expanded) return { seed: null, expanded: bytes };
  const tlv = readTlv(bytes, 0);
  if (tlv.end !== bytes.length) throw bad('trailing data after the key');
  if (is(tlv, CONTEXT, 0) && !tlv.constructed) return seedAndExpanded(content(bytes, tlv), sizes);
  if (is(tlv, UNIVERSAL, T.OCTET_STRING)) {
    const inner = content(bytes, tlv);
    if (inner.length === sizes.seed || inner.length === sizes.expanded) return seedAndExpanded(inner, sizes);
    throw bad(`a key of ${inner.length} bytes, where ${sizes.seed} or ${sizes.expanded} were expected`);
  }
  if (is(tlv, UNIVERSAL, T.SEQUENCE)) {
    const [s, e] = children(bytes, tlv);
    const seed = content(bytes, expect(s, UNIVERSAL, T.OCTET_STRING, 'seed'));
    const expanded = content(bytes, expect(e, UNIVERSAL, T.OCTET_STRING, 'expandedKey'));
    if (seed.length !== sizes.seed || expanded.length !== sizes.expanded)
      throw bad('a seed or expanded key of the wrong length');
    return { seed, expanded };
  }
  throw bad('an unknown private key format');
}

/** The expanded secret key of an ML-KEM/ML-DSA private key, checking a "both" for consistency. */
function secretFrom(
  lib: { keygen(seed: Uint8Array): { secretKey: Uint8Array } },
  privateKey: Uint8Array,
  sizes: { seed: number; expanded: number },
): Uint8Array {
  const { seed, expanded } = seedAndExpanded(privateKey, sizes);
  if (!seed) return expanded!;
  const made = lib.keygen(seed).secretKey;
  if (expanded && !equalBytes(made, expanded)) throw bad('its seed and expanded key do not match');
  return made;
}

/**
 * Reads a modern private key; null when the PKCS#8 holds another algorithm (RSA, EC) or is not
 * readable as PKCS#8 at all. Throws 'malformed' for a modern key that is inconsistent or damaged.
 */
export async function readModernPrivateKey(pkcs8: Uint8Array): Promise<ModernPrivateKey | null> {
  let parts: { oid: string; privateKey: Uint8Array; hasParams: boolean };
  try {
    parts = pkcs8Parts(pkcs8);
  } catch {
    return null;
  }
  const { oid, privateKey } = parts;
  const kem = ML_KEM[oid];
  if (kem) {
    const lib = (await import('@noble/post-quantum/ml-kem.js'))[kem.set];
    const secretKey = secretFrom(lib, privateKey, SIZES[kem.set]);
    return { kind: 'ml-kem', oid, set: kem.set, secretKey, publicKey: lib.getPublicKey(secretKey) };
  }
  const sig = MODERN_SIGNATURES[oid];
  if (sig?.family === 'ml-dsa') {
    const set = sig.set as 'ml_dsa44' | 'ml_dsa65' | 'ml_dsa87';
    const lib = (await import('@noble/post-quantum/ml-dsa.js'))[set];
    const secretKey = secretFrom(lib, privateKey, SIZES[set]);
    return { kind: 'ml-dsa', oid, set, secretKey, publicKey: lib.getPublicKey(secretKey) };
  }
  if (sig?.family === 'slh-dsa') {
    // RFC 9909 §6: the private key is SK.seed || SK.prf || PK.seed || PK.root, the last half public.
    const lib = (await import('@noble/post-quantum/slh-dsa.js')) as unknown as Record<
      string,
      { getPublicKey(sk: Uint8Array): Uint8Array }
    >;
    const l = lib[sig.set];
    if (!l) return null;
    const raw = [64, 96, 128].includes(privateKey.length);
    const key = raw
      ? privateKey
      : content(privateKey, expect(readTlv(privateKey, 0), UNIVERSAL, T.OCTET_STRING, 'SLH-DSA key'));
    return { kind: 'slh-dsa', oid, set: sig.set, secretKey: key, publicKey: l.getPublicKey(key) };
  }
  const curve = CURVES[oid];
  if (curve) {
    // CurvePrivateKey ::= OCTET STRING inside the privateKey OCTET STRING.
    const inner = readTlv(privateKey, 0);
    const key = content(privateKey, expect(inner, UNIVERSAL, T.OCTET_STRING, 'CurvePrivateKey'));
    if (key.length !== curve.bytes) throw bad(`a ${curve.name} key of ${key.length} bytes`);
    return {
      kind: curve.kind,
      oid,
      set: curve.kind,
      secretKey: key,
      publicKey: await curvePublicKey(curve.kind, key),
    };
  }
  return null;
}

const CURVES: Record<string, { name: string; kind: 'x25519' | 'x448' | 'ed25519' | 'ed448'; bytes: number }> =
  {
    [OID.x25519]: { name: 'X25519', kind: 'x25519', bytes: 32 },
    [OID.x448]: { name: 'X448', kind: 'x448', bytes: 56 },
    [OID.ed25519]: { name: 'Ed25519', kind: 'ed25519', bytes: 32 },
    [OID.ed448]: { name: 'Ed448', kind: 'ed448', bytes: 57 },
  };

async function curvePublicKey(
  kind: 'x25519' | 'x448' | 'ed25519' | 'ed448',
  key: Uint8Array,
): Promise<Uint8Array> {
  if (kind === 'x25519' || kind === 'ed25519') {
    const { x25519, ed25519 } = await import('@noble/curves/ed25519.js');
    return kind === 'x25519' ? x25519.getPublicKey(key) : ed25519.getPublicKey(key);
  }
  const { x448, ed448 } = await import('@noble/curves/ed448.js');
  return kind === 'x448' ? x448.getPublicKey(key) : ed448.getPublicKey(key);
}
