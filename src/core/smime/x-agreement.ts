/**
 * Key agreement with X25519 and X448 (RFC 8418) in KeyAgreeRecipientInfo: the originator's
 * ephemeral key ([1] OriginatorPublicKey, id-X25519/id-X448 with absent parameters) and the
 * recipient's static key give Z; the KEK comes from the ANSI X9.63 KDF (dhSinglePass-stdDH-sha*kdf)
 * or HKDF (dhSinglePass-stdDH-hkdf-sha*) over ECC-CMS-SharedInfo; AES key wrap carries the CEK.
 *
 * X25519 uses WebCrypto where the runtime has it (Node 20, Chromium 133+), @noble/curves otherwise;
 * X448 always @noble/curves.
 */
import { toArrayBuffer } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import { integrityFailure } from './failures.ts';
import type { SmimePrivateEntry } from '../keyring.ts';
import { CONTEXT, T, UNIVERSAL, algorithm, children, content, expect, is, raw, type Tlv } from './ber.ts';
import { eccCmsSharedInfo, hkdf, x963Kdf } from './kdf.ts';
import { aesKeyUnwrap } from './keywrap.ts';
import { readModernPrivateKey } from './modern-keys.ts';
import { KEY_WRAPS, OID, algorithmName } from './oids.ts';

/** The key-agreement schemes RFC 8418 §2.2 names for X25519 and X448, by OID. */
export const X_SCHEMES: Record<string, { name: string; kdf: 'x963' | 'hkdf'; hash: string }> = {
  '1.3.132.1.11.1': { name: 'dhSinglePass-stdDH-sha256kdf', kdf: 'x963', hash: 'SHA-256' },
  '1.3.132.1.11.2': { name: 'dhSinglePass-stdDH-sha384kdf', kdf: 'x963', hash: 'SHA-384' },
  '1.3.132.1.11.3': { name: 'dhSinglePass-stdDH-sha512kdf', kdf: 'x963', hash: 'SHA-512' },
  '1.2.840.113549.1.9.16.3.19': { name: 'dhSinglePass-stdDH-hkdf-sha256', kdf: 'hkdf', hash: 'SHA-256' },
  '1.2.840.113549.1.9.16.3.20': { name: 'dhSinglePass-stdDH-hkdf-sha384', kdf: 'hkdf', hash: 'SHA-384' },
  '1.2.840.113549.1.9.16.3.21': { name: 'dhSinglePass-stdDH-hkdf-sha512', kdf: 'hkdf', hash: 'SHA-512' },
};

const CURVE_NAMES: Record<string, 'X25519' | 'X448'> = { [OID.x25519]: 'X25519', [OID.x448]: 'X448' };

export function isXKey(keyAlgorithm: string): boolean {
  return keyAlgorithm in CURVE_NAMES;
}

/** "X25519 (dhSinglePass-stdDH-hkdf-sha256)" when the originator key is an X25519/X448 key; else null. */
export function describeXAgreement(
  der: Uint8Array,
  originator: Tlv | undefined,
  scheme: string,
): string | null {
  try {
    const o = originator ? children(der, originator)[0] : undefined;
    if (!o || !is(o, CONTEXT, 1)) return null;
    const curve = CURVE_NAMES[algorithm(der, children(der, o)[0]!).oid];
    return curve ? `${curve} (${X_SCHEMES[scheme]?.name ?? algorithmName(scheme)})` : null;
  } catch {
    return null;
  }
}

async function sharedSecret(
  curve: 'X25519' | 'X448',
  pkcs8: Uint8Array,
  secret: Uint8Array,
  peer: Uint8Array,
): Promise<Uint8Array> {
  if (curve === 'X25519') {
    try {
      const priv = await crypto.subtle.importKey('pkcs8', toArrayBuffer(pkcs8), { name: 'X25519' }, false, [
        'deriveBits',
      ]);
      const pub = await crypto.subtle.importKey('raw', toArrayBuffer(peer), { name: 'X25519' }, false, []);
      return new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256));
    } catch (e) {
      if ((e as { name?: string }).name !== 'NotSupportedError') throw e;
    }
    const { x25519 } = await import('@noble/curves/ed25519.js');
    return x25519.getSharedSecret(secret, peer);
  }
  const { x448 } = await import('@noble/curves/ed448.js');
  return x448.getSharedSecret(secret, peer);
}

/**
 * Recovers the CEK of one RecipientEncryptedKey (`encryptedKey`) of a KeyAgreeRecipientInfo whose
 * recipient is `entry`, an X25519 or X448 key.
 */
export async function xKeyAgreement(
  der: Uint8Array,
  kari: {
    originator: Tlv | undefined;
    ukm: Uint8Array | null;
    alg: { oid: string; params: Tlv | null };
    encryptedKey: Uint8Array;
  },
  entry: SmimePrivateEntry,
  keyBytes: number,
): Promise<Uint8Array> {
  const scheme = X_SCHEMES[kari.alg.oid];
  if (!scheme)
    throw new SealpostError(
      'unsupported',
      `Key agreement with ${algorithmName(kari.alg.oid)} is not supported.`,
      {
        algorithm: algorithmName(kari.alg.oid),
      },
    );
  if (!kari.alg.params)
    throw new SealpostError('malformed', 'The key-agreement algorithm does not name its key wrap.');
  const wrap = algorithm(der, kari.alg.params);
  const wrapInfo = KEY_WRAPS[wrap.oid];
  if (!wrapInfo)
    throw new SealpostError('unsupported', `Key wrap with ${algorithmName(wrap.oid)} is not supported.`, {
      algorithm: algorithmName(wrap.oid),
    });
  const key = await readModernPrivateKey(entry.pkcs8);
  const curve = key ? CURVE_NAMES[key.oid] : undefined;
  if (!key || !curve)
    throw new SealpostError('unsupported', 'The recipient key is not an X25519 or X448 key.', {
      algorithm: 'X25519/X448',
    });
  const o = kari.originator ? children(der, kari.originator)[0] : undefined;
  if (!o || !is(o, CONTEXT, 1))
    throw new SealpostError('unsupported', 'Key agreement with a static originator key is not supported.', {
      algorithm: `${curve} static-static`,
    });
  const [oAlg, oKey] = children(der, o);
  const originatorAlg = algorithm(der, oAlg!);
  if (CURVE_NAMES[originatorAlg.oid] !== curve || originatorAlg.params)
    throw new SealpostError('malformed', `The originator key is not an ${curve} key.`);
  const bits = content(der, expect(oKey, UNIVERSAL, T.BIT_STRING, 'originator public key'));
  const peer = bits.subarray(1);
  if (bits[0] !== 0 || peer.length !== key.publicKey.length) throw integrityFailure();
  let kek: Uint8Array;
  try {
    const z = await sharedSecret(curve, entry.pkcs8, key.secretKey, peer);
    // RFC 7748 §6, RFC 8418 §2: an all-zero Z means a low-order originator key.
    if (z.every((b) => b === 0)) throw new Error('all-zero shared secret');
    const info = eccCmsSharedInfo(raw(der, kari.alg.params), kari.ukm, wrapInfo.keyBytes);
    kek =
      scheme.kdf === 'hkdf'
        ? await hkdf(scheme.hash, z, info, wrapInfo.keyBytes)
        : await x963Kdf(scheme.hash, z, info, wrapInfo.keyBytes);
  } catch (e) {
    throw integrityFailure(e);
  }
  const cek = await aesKeyUnwrap(kek, kari.encryptedKey);
  if (!cek || cek.length !== keyBytes) throw integrityFailure();
  return cek;
}
