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
};

/** Signature algorithm OIDs → the digest they imply (null: taken from the digest algorithm field). */
export const SIGNATURE_ALGORITHMS: Record<
  string,
  { name: string; kind: 'rsa' | 'ecdsa' | 'rsa-pss' | 'ed25519' | 'dsa'; hash: string | null }
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
  '1.3.101.112': { name: 'Ed25519', kind: 'ed25519', hash: null },
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
  { name: string; kind: 'aes-cbc' | 'aes-gcm' | '3des-cbc'; keyBytes: number }
> = {
  [OID.aes128Cbc]: { name: 'AES-128-CBC', kind: 'aes-cbc', keyBytes: 16 },
  [OID.aes192Cbc]: { name: 'AES-192-CBC', kind: 'aes-cbc', keyBytes: 24 },
  [OID.aes256Cbc]: { name: 'AES-256-CBC', kind: 'aes-cbc', keyBytes: 32 },
  [OID.aes128Gcm]: { name: 'AES-128-GCM', kind: 'aes-gcm', keyBytes: 16 },
  [OID.aes192Gcm]: { name: 'AES-192-GCM', kind: 'aes-gcm', keyBytes: 24 },
  [OID.aes256Gcm]: { name: 'AES-256-GCM', kind: 'aes-gcm', keyBytes: 32 },
  [OID.desEde3Cbc]: { name: '3DES-CBC', kind: '3des-cbc', keyBytes: 24 },
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
    CONTENT_CIPHERS[oid]?.name ??
    KEY_WRAPS[oid]?.name ??
    DIGESTS[oid]?.name ??
    SIGNATURE_ALGORITHMS[oid]?.name ??
    ECDH_SCHEMES[oid]?.name ??
    OTHER_NAMES[oid] ??
    `OID ${oid}`
  );
}
