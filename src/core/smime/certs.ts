/** X.509 certificates with PKI.js: parsing, describing for people, PEM/DER import. */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { base64Decode, latin1, sha256Hex, toArrayBuffer, toHex } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import type { CertificateEntry } from '../keyring.ts';
import type { CertificateInfo } from '../report.ts';
import { CURVES, MODERN_KEYS, MODERN_SIGNATURES, OID, SIGNATURE_ALGORITHMS } from './oids.ts';

export interface ParsedCertificate {
  der: Uint8Array;
  cert: pkijs.Certificate;
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  try {
    const asn = asn1js.fromBER(toArrayBuffer(der));
    if (asn.offset === -1) throw new Error(asn.result.error);
    const cert = new pkijs.Certificate({ schema: asn.result });
    return { der, cert };
  } catch (e) {
    throw new SealpostError('malformed', 'A certificate could not be read.', {}, { cause: e });
  }
}

const NAME_KEYS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '2.5.4.4': 'SN',
  '2.5.4.42': 'GN',
  '2.5.4.12': 'title',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  [OID.emailAddress]: 'emailAddress',
};

function attributeText(value: unknown): string {
  const v = value as { valueBlock?: { value?: unknown } };
  const inner = v?.valueBlock?.value;
  return typeof inner === 'string' ? inner : '';
}

/** A distinguished name as one line, most specific first (CN=…, O=…, C=…). */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map(
      (tv) => `${NAME_KEYS[tv.type] ?? tv.type}=${attributeText(tv.value).replace(/([,+"\\<>;])/g, '\\$1')}`,
    )
    .reverse()
    .join(', ');
}

function commonName(name: pkijs.RelativeDistinguishedNames): string | null {
  const cn = name.typesAndValues.find((tv) => tv.type === '2.5.4.3');
  return cn ? attributeText(cn.value) : null;
}

function extension(cert: pkijs.Certificate, id: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === id);
}

/** E-mail addresses of the subject: subjectAltName rfc822Name entries, then the emailAddress attribute. */
export function certificateEmails(cert: pkijs.Certificate): string[] {
  const out: string[] = [];
  const san = extension(cert, OID.subjectAltName)?.parsedValue as pkijs.AltName | undefined;
  for (const n of san?.altNames ?? []) {
    if (n.type === 1 && typeof n.value === 'string') out.push(n.value.trim().toLowerCase());
  }
  for (const tv of cert.subject.typesAndValues) {
    if (tv.type === OID.emailAddress) out.push(attributeText(tv.value).trim().toLowerCase());
  }
  return [...new Set(out.filter((e) => e.length > 0))];
}

const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/** Key usage names, or null when the certificate has no keyUsage extension (no restriction). */
export function keyUsage(cert: pkijs.Certificate): string[] | null {
  const ext = extension(cert, OID.keyUsage);
  if (!ext) return null;
  const bits = (ext.parsedValue as asn1js.BitString | undefined)?.valueBlock.valueHexView;
  if (!bits) return [];
  const out: string[] = [];
  for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
    const byte = bits[i >> 3] ?? 0;
    if (byte & (0x80 >> (i & 7))) out.push(KEY_USAGE_BITS[i]!);
  }
  return out;
}

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  [OID.emailProtection]: 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  [OID.anyExtendedKeyUsage]: 'anyExtendedKeyUsage',
};

/** Extended key usage OIDs, or null when absent. */
export function extendedKeyUsage(cert: pkijs.Certificate): string[] | null {
  const ext = extension(cert, OID.extKeyUsage);
  if (!ext) return null;
  return (ext.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
}

export function isCA(cert: pkijs.Certificate): boolean {
  const bc = extension(cert, OID.basicConstraints)?.parsedValue as pkijs.BasicConstraints | undefined;
  return bc?.cA === true;
}

export function subjectKeyIdentifier(cert: pkijs.Certificate): Uint8Array | null {
  const ext = extension(cert, OID.subjectKeyIdentifier)?.parsedValue as asn1js.OctetString | undefined;
  return ext ? new Uint8Array(ext.valueBlock.valueHexView) : null;
}

export function serialHex(cert: pkijs.Certificate): string {
  const v = cert.serialNumber.valueBlock.valueHexView;
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return toHex(v.subarray(i));
}

export function publicKeyDescription(cert: pkijs.Certificate): string {
  const spki = cert.subjectPublicKeyInfo;
  const alg = spki.algorithm.algorithmId;
  if (alg === OID.rsaEncryption || alg === OID.rsaPss) {
    const parsed = spki.parsedKey as pkijs.RSAPublicKey | undefined;
    const n = parsed?.modulus.valueBlock.valueHexView;
    let bits = 0;
    if (n) {
      let i = 0;
      while (i < n.length && n[i] === 0) i++;
      bits = (n.length - i) * 8;
      if (i < n.length) bits -= Math.clz32(n[i]!) - 24;
    }
    return `RSA ${bits}`;
  }
  if (alg === OID.ecPublicKey) {
    const params = spki.algorithm.algorithmParams as asn1js.ObjectIdentifier | undefined;
    const curve = params?.valueBlock?.toString?.() ?? '';
    return `EC ${CURVES[curve]?.name ?? curve}`;
  }
  return MODERN_KEYS[alg] ?? `OID ${alg}`;
}

export async function describeParsed(p: ParsedCertificate): Promise<CertificateInfo> {
  const { cert, der } = p;
  const sha1 = toHex(new Uint8Array(await crypto.subtle.digest('SHA-1', toArrayBuffer(der))));
  const eku = extendedKeyUsage(cert) ?? [];
  const subject = formatName(cert.subject);
  const issuer = formatName(cert.issuer);
  return {
    subject,
    issuer,
    serialNumber: serialHex(cert),
    notBefore: cert.notBefore.value.toISOString(),
    notAfter: cert.notAfter.value.toISOString(),
    sha256Fingerprint: await sha256Hex(der),
    sha1Fingerprint: sha1,
    emailAddresses: certificateEmails(cert),
    keyUsage: keyUsage(cert) ?? [],
    extendedKeyUsage: eku.map((o) => EKU_NAMES[o] ?? o),
    publicKeyAlgorithm: publicKeyDescription(cert),
    signatureAlgorithm:
      SIGNATURE_ALGORITHMS[cert.signatureAlgorithm.algorithmId]?.name ??
      MODERN_SIGNATURES[cert.signatureAlgorithm.algorithmId]?.name ??
      cert.signatureAlgorithm.algorithmId,
    isCA: isCA(cert),
    selfSigned: subject === issuer,
  };
}

/** A label for people: "bob@example.net (issued by Example Issuing CA)". */
export function certificateLabel(cert: pkijs.Certificate): string {
  const who = certificateEmails(cert)[0] ?? commonName(cert.subject) ?? formatName(cert.subject);
  const by = commonName(cert.issuer) ?? formatName(cert.issuer);
  return formatName(cert.subject) === formatName(cert.issuer)
    ? `${who} (self-signed)`
    : `${who} (issued by ${by})`;
}

/** All certificates in a PEM text (several blocks allowed) or one DER certificate. */
export function splitCertificates(bytes: Uint8Array): Uint8Array[] {
  const head = latin1(bytes, 0, Math.min(bytes.length, 64 * 1024 * 1024));
  if (head.includes('-----BEGIN')) {
    const out: Uint8Array[] = [];
    const re =
      /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g;
    for (const m of head.matchAll(re)) out.push(base64Decode(m[1]!.replace(/^[A-Za-z-]+:.*$/gm, '')));
    if (out.length === 0) throw new SealpostError('malformed', 'The PEM file holds no certificate.');
    return out;
  }
  return [bytes];
}

export async function importCertificateEntries(
  bytes: Uint8Array,
  trusted: boolean,
): Promise<CertificateEntry[]> {
  const out: CertificateEntry[] = [];
  for (const der of splitCertificates(bytes)) {
    const p = parseCertificate(der);
    out.push({
      type: 'certificate',
      id: await sha256Hex(der),
      label: certificateLabel(p.cert),
      certificate: der,
      trusted,
    });
  }
  return out;
}
