/** Matching certificates to the identifiers CMS uses (IssuerAndSerialNumber, SubjectKeyIdentifier). */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { equalBytes, toArrayBuffer, toHex } from '../bytes.ts';
import { CONTEXT, T, UNIVERSAL, children, content, expect, is, raw, readTlv, type Tlv } from './ber.ts';
import { formatName, parseCertificate, subjectKeyIdentifier, type ParsedCertificate } from './certs.ts';

export interface CertIds {
  issuer: Uint8Array; // DER of the issuer Name
  serial: Uint8Array; // INTEGER content, without leading zero bytes
  ski: Uint8Array | null;
}

export function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

export function certIds(p: ParsedCertificate): CertIds {
  const der = p.der;
  const certTlv = readTlv(der, 0);
  const [tbs] = children(der, certTlv);
  const fields = children(der, expect(tbs, UNIVERSAL, T.SEQUENCE, 'tbsCertificate'));
  let k = 0;
  if (is(fields[0], CONTEXT, 0)) k = 1;
  const serial = expect(fields[k], UNIVERSAL, T.INTEGER, 'serialNumber');
  const issuer = expect(fields[k + 2], UNIVERSAL, T.SEQUENCE, 'issuer');
  return {
    issuer: raw(der, issuer),
    serial: stripZeros(content(der, serial)),
    ski: subjectKeyIdentifier(p.cert),
  };
}

/** A CMS signer/recipient identifier: issuer and serial, or a subject key identifier. */
export type CmsId = { issuer: Uint8Array; serial: Uint8Array } | { ski: Uint8Array };

/** Reads IssuerAndSerialNumber (a SEQUENCE) or a [n] IMPLICIT SubjectKeyIdentifier. */
export function readCmsId(bytes: Uint8Array, tlv: Tlv): CmsId {
  if (is(tlv, UNIVERSAL, T.SEQUENCE)) {
    const [issuer, serial] = children(bytes, tlv);
    return {
      issuer: raw(bytes, expect(issuer, UNIVERSAL, T.SEQUENCE, 'issuer')),
      serial: stripZeros(content(bytes, expect(serial, UNIVERSAL, T.INTEGER, 'serialNumber'))),
    };
  }
  return { ski: content(bytes, tlv) };
}

export function matches(id: CmsId, ids: CertIds): boolean {
  if ('ski' in id) return ids.ski !== null && equalBytes(id.ski, ids.ski);
  return equalBytes(id.issuer, ids.issuer) && equalBytes(id.serial, ids.serial);
}

/** "certificate issued by CN=…, serial 1a2b" or "key identifier 0a1b…". */
export function describeCmsId(id: CmsId): {
  description: string;
  issuer?: string;
  serialNumber?: string;
  subjectKeyIdentifier?: string;
} {
  if ('ski' in id) {
    const ski = toHex(id.ski);
    return { description: `the certificate with subject key identifier ${ski}`, subjectKeyIdentifier: ski };
  }
  let issuer = '(unreadable issuer)';
  try {
    const asn = asn1js.fromBER(toArrayBuffer(id.issuer));
    issuer = formatName(new pkijs.RelativeDistinguishedNames({ schema: asn.result }));
  } catch {
    /* keep the placeholder */
  }
  const serialNumber = toHex(id.serial);
  return {
    description: `the certificate issued by ${issuer} with serial number ${serialNumber}`,
    issuer,
    serialNumber,
  };
}

export { parseCertificate };
