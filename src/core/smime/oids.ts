/** Object identifiers used by the S/MIME code, and names for people. */

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  compressedData: '1.2.840.113549.1.9.16.1.9',
  zlib: '1.2.840.113549.1.9.16.3.8',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  emailAddress: '1.2.840.113549.1.9.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaOaep: '1.2.840.113549.1.1.7',
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  pwriKek: '1.2.840.113549.1.9.16.3.9',
  pbkdf2: '1.2.840.113549.1.5.12',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  x25519: '1.3.101.110',
  x448: '1.3.101.111',
  aes128Cbc: '2.16.840.1.101.3.4.1.2',
  aes192Cbc: '2.16.840.1.101.3.4.1.22',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  aes128Gcm: '2.16.840.1.101.3.4.1.6',
  aes192Gcm: '2.16.840.1.101.3.4.1.26',
  aes256Gcm: '2.16.840.1.101.3.4.1.46',
  aes128Wrap: '2.16.840.1.101.3.4.1.5',
  aes192Wrap: '2.16.840.1.101.3.4.1.25',
  aes256Wrap: '2.16.840.1.101.3.4.1.45',
  desEde3Cbc: '1.2.840.113549.3.7',
  rc2Cbc: '1.2.840.113549.3.2',
  desCbc: '1.3.14.3.2.7',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

export const DIGESTS: Record<string, { name: string; webcrypto: string | null; weak: boolean }> = {
  '1.3.14.3.2.26': { name: 'SHA-1', webcrypto: 'SHA-1', weak: true },
  '2.16.840.1.101.3.4.2.4': { name: 'SHA-224', webcrypto: null, weak: false },
  '2.16.840.1.101.3.4.2.1': { name: 'SHA-256', webcrypto: 'SHA-256', weak: false },
  '2.16.840.1.101.3.4.2.2': { name: 'SHA-384', webcrypto: 'SHA-384', weak: false },
  '2.16.840.1.101.3.4.2.3': { name: 'SHA-512', webcrypto: 'SHA-512', weak: false },
  '1.2.840.113549.2.5': { name: 'MD5', webcrypto: null, weak: true },
  // Computed with @noble/hashes (modern-signatures.ts): WebCrypto has none of these.
  '2.16.840.1.101.3.4.2.8': { name: 'SHA3-256', webcrypto: null, weak: false },
  '2.16.840.1.101.3.4.2.9': { name: 'SHA3-384', webcrypto: null, weak: false },
  '2.16.840.1.101.3.4.2.10': { name: 'SHA3-512', webcrypto: null, weak: false },
  '2.16.840.1.101.3.4.2.11': { name: 'SHAKE128', webcrypto: null, weak: false }, // 256-bit output (RFC 8702)
  '2.16.840.1.101.3.4.2.12': { name: 'SHAKE256', webcrypto: null, weak: false }, // 512-bit output (RFC 8419, RFC 8702)
};

/** Signature algorithm OIDs → the digest they imply (null: taken from the digest algorithm field). */
export const SIGNATURE_ALGORITHMS: Record<
  string,
  { name: string; kind: 'rsa' | 'ecdsa' | 'rsa-pss' | 'dsa'; hash: string | null }
> = {
  '1.2.840.113549.1.1.1': { name: 'rsaEncryption', kind: 'rsa', hash: null },
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', kind: 'rsa', hash: 'MD5' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', kind: 'rsa', hash: 'SHA-1' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', kind: 'rsa', hash: 'SHA-224' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', kind: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', kind: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', kind: 'rsa', hash: 'SHA-512' },
  '1.2.840.113549.1.1.10': { name: 'RSASSA-PSS', kind: 'rsa-pss', hash: null },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', kind: 'ecdsa', hash: 'SHA-1' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', kind: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', kind: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', kind: 'ecdsa', hash: 'SHA-512' },
  '1.2.840.10045.2.1': { name: 'ecdsa', kind: 'ecdsa', hash: null },
  '1.2.840.10040.4.3': { name: 'dsa-with-sha1', kind: 'dsa', hash: 'SHA-1' },
  '1.2.840.10040.4.1': { name: 'dsa', kind: 'dsa', hash: null },
};

export const CURVES: Record<string, { name: string; webcrypto: string; bytes: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', webcrypto: 'P-256', bytes: 32 },
  '1.3.132.0.34': { name: 'P-384', webcrypto: 'P-384', bytes: 48 },
  '1.3.132.0.35': { name: 'P-521', webcrypto: 'P-521', bytes: 66 },
};

/** ECDH key agreement schemes (RFC 5753 / SEC 1): standard and cofactor DH with an X9.63 KDF. */
export const ECDH_SCHEMES: Record<string, { name: string; hash: string }> = {
  '1.3.133.16.840.63.0.2': { name: 'dhSinglePass-stdDH-sha1kdf', hash: 'SHA-1' },
  '1.3.132.1.11.0': { name: 'dhSinglePass-stdDH-sha224kdf', hash: 'SHA-224' },
  '1.3.132.1.11.1': { name: 'dhSinglePass-stdDH-sha256kdf', hash: 'SHA-256' },
  '1.3.132.1.11.2': { name: 'dhSinglePass-stdDH-sha384kdf', hash: 'SHA-384' },
  '1.3.132.1.11.3': { name: 'dhSinglePass-stdDH-sha512kdf', hash: 'SHA-512' },
  '1.3.133.16.840.63.0.3': { name: 'dhSinglePass-cofactorDH-sha1kdf', hash: 'SHA-1' },
  '1.3.132.1.14.0': { name: 'dhSinglePass-cofactorDH-sha224kdf', hash: 'SHA-224' },
  '1.3.132.1.14.1': { name: 'dhSinglePass-cofactorDH-sha256kdf', hash: 'SHA-256' },
  '1.3.132.1.14.2': { name: 'dhSinglePass-cofactorDH-sha384kdf', hash: 'SHA-384' },
  '1.3.132.1.14.3': { name: 'dhSinglePass-cofactorDH-sha512kdf', hash: 'SHA-512' },
};

export const CONTENT_CIPHERS: Record<
  string,
  { name: string; kind: 'aes-cbc' | 'aes-gcm' | 'chacha20-poly1305' | '3des-cbc'; keyBytes: number }
> = {
  [OID.aes128Cbc]: { name: 'AES-128-CBC', kind: 'aes-cbc', keyBytes: 16 },
  [OID.aes192Cbc]: { name: 'AES-192-CBC', kind: 'aes-cbc', keyBytes: 24 },
  [OID.aes256Cbc]: { name: 'AES-256-CBC', kind: 'aes-cbc', keyBytes: 32 },
  [OID.aes128Gcm]: { name: 'AES-128-GCM', kind: 'aes-gcm', keyBytes: 16 },
  [OID.aes192Gcm]: { name: 'AES-192-GCM', kind: 'aes-gcm', keyBytes: 24 },
  [OID.aes256Gcm]: { name: 'AES-256-GCM', kind: 'aes-gcm', keyBytes: 32 },
  [OID.desEde3Cbc]: { name: '3DES-CBC', kind: '3des-cbc', keyBytes: 24 },
  // RFC 8103 (AuthEnvelopedData only), chacha.ts
  '1.2.840.113549.1.9.16.3.18': { name: 'ChaCha20-Poly1305', kind: 'chacha20-poly1305', keyBytes: 32 },
};

export const KEY_WRAPS: Record<string, { name: string; keyBytes: number }> = {
  [OID.aes128Wrap]: { name: 'AES-128 key wrap', keyBytes: 16 },
  [OID.aes192Wrap]: { name: 'AES-192 key wrap', keyBytes: 24 },
  [OID.aes256Wrap]: { name: 'AES-256 key wrap', keyBytes: 32 },
};

export const HMACS: Record<string, string> = {
  '1.2.840.113549.2.7': 'SHA-1',
  '1.2.840.113549.2.9': 'SHA-256',
  '1.2.840.113549.2.10': 'SHA-384',
  '1.2.840.113549.2.11': 'SHA-512',
};

/**
 * Signature algorithms handled by modern-signatures.ts rather than WebCrypto's classic set: EdDSA
 * (RFC 8410/8419), ML-DSA (FIPS 204, RFC 9881/9882) pure and pre-hash, SLH-DSA (FIPS 205, RFC 9909/
 * 9814) pure and pre-hash. `set` names the parameter set (the noble export), `prehash` the hash of
 * the pre-hash variants, `pure` the OID of the plain variant (a key certified under it may make
 * either kind of signature; a key certified under a pre-hash OID only pre-hash signatures).
 */
export const MODERN_SIGNATURES: Record<
  string,
  {
    name: string;
    family: 'eddsa' | 'ml-dsa' | 'slh-dsa';
    set: string;
    prehash: 'SHA-256' | 'SHA-512' | 'SHAKE128' | 'SHAKE256' | null;
    pure: string;
  }
> = {};
{
  const nist = '2.16.840.1.101.3.4.3.';
  const add = (
    id: string,
    name: string,
    family: 'eddsa' | 'ml-dsa' | 'slh-dsa',
    set: string,
    prehash: 'SHA-256' | 'SHA-512' | 'SHAKE128' | 'SHAKE256' | null = null,
    pure = id,
  ): void => {
    MODERN_SIGNATURES[id] = { name, family, set, prehash, pure };
  };
  add(OID.ed25519, 'Ed25519', 'eddsa', 'ed25519');
  add(OID.ed448, 'Ed448', 'eddsa', 'ed448');
  for (const [n, level] of [
    [17, 44],
    [18, 65],
    [19, 87],
  ] as const) {
    add(`${nist}${n}`, `ML-DSA-${level}`, 'ml-dsa', `ml_dsa${level}`);
    add(
      `${nist}${n + 15}`,
      `HashML-DSA-${level} with SHA-512`,
      'ml-dsa',
      `ml_dsa${level}`,
      'SHA-512',
      `${nist}${n}`,
    );
  }
  const slh = [
    ['sha2', '128s', 'SHA-256'],
    ['sha2', '128f', 'SHA-256'],
    ['sha2', '192s', 'SHA-512'],
    ['sha2', '192f', 'SHA-512'],
    ['sha2', '256s', 'SHA-512'],
    ['sha2', '256f', 'SHA-512'],
    ['shake', '128s', 'SHAKE128'],
    ['shake', '128f', 'SHAKE128'],
    ['shake', '192s', 'SHAKE256'],
    ['shake', '192f', 'SHAKE256'],
    ['shake', '256s', 'SHAKE256'],
    ['shake', '256f', 'SHAKE256'],
  ] as const;
  slh.forEach(([h, size, pre], i) => {
    const name = `SLH-DSA-${h.toUpperCase()}-${size}`;
    const set = `slh_dsa_${h}_${size}`;
    add(`${nist}${20 + i}`, name, 'slh-dsa', set);
    add(
      `${nist}${35 + i}`,
      `HashSLH-DSA-${h.toUpperCase()}-${size} with ${pre}`,
      'slh-dsa',
      set,
      pre,
      `${nist}${20 + i}`,
    );
  });
}

/** ML-KEM (FIPS 203, RFC 9935/9936): the KEM OIDs of certificates and of KEMRecipientInfo. */
export const ML_KEM: Record<string, { name: string; set: 'ml_kem512' | 'ml_kem768' | 'ml_kem1024' }> = {
  '2.16.840.1.101.3.4.4.1': { name: 'ML-KEM-512', set: 'ml_kem512' },
  '2.16.840.1.101.3.4.4.2': { name: 'ML-KEM-768', set: 'ml_kem768' },
  '2.16.840.1.101.3.4.4.3': { name: 'ML-KEM-1024', set: 'ml_kem1024' },
};

/** Public key algorithms named plainly (certificate dialogs, key lists). */
export const MODERN_KEYS: Record<string, string> = {
  [OID.x25519]: 'X25519',
  [OID.x448]: 'X448',
  ...Object.fromEntries(Object.entries(ML_KEM).map(([k, v]) => [k, v.name])),
  ...Object.fromEntries(Object.entries(MODERN_SIGNATURES).map(([k, v]) => [k, v.name])),
};

/** A signature algorithm by name, classic or modern ("sha256WithRSAEncryption", "ML-DSA-65"). */
export function signatureAlgorithmName(oid: string): string {
  return SIGNATURE_ALGORITHMS[oid]?.name ?? MODERN_SIGNATURES[oid]?.name ?? `OID ${oid}`;
}

const OTHER_NAMES: Record<string, string> = {
  [OID.rc2Cbc]: 'RC2-CBC',
  [OID.desCbc]: 'DES-CBC',
  '1.2.840.113549.3.4': 'RC4',
  '1.2.392.200011.61.1.1.1.2': 'Camellia-128-CBC',
  '1.2.392.200011.61.1.1.1.4': 'Camellia-256-CBC',
  '1.2.410.200004.1.4': 'SEED-CBC',
  '1.2.840.113549.1.9.16.3.6': 'CMS 3DES key wrap',
  '1.2.840.113549.1.9.16.3.7': 'CMS RC2 key wrap',
  '1.2.840.113549.1.9.16.3.5': 'ESDH',
  '1.2.840.113549.1.9.16.3.10': 'ESDH',
  '1.2.840.113549.1.9.16.1.2': 'CMS AuthenticatedData',
  '1.2.840.113549.1.7.5': 'CMS DigestedData',
  '1.2.840.113549.1.7.6': 'CMS EncryptedData',
};

export function algorithmName(oid: string): string {
  return (
    MODERN_SIGNATURES[oid]?.name ??
    MODERN_KEYS[oid] ??
    CONTENT_CIPHERS[oid]?.name ??
    KEY_WRAPS[oid]?.name ??
    DIGESTS[oid]?.name ??
    SIGNATURE_ALGORITHMS[oid]?.name ??
    ECDH_SCHEMES[oid]?.name ??
    OTHER_NAMES[oid] ??
    `OID ${oid}`
  );
}
