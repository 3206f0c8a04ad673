/**
 * A new post-quantum S/MIME identity for the recipient: an ML-DSA-65 key (FIPS 204) for signing and
 * an ML-KEM-768 key (FIPS 203) for encryption, each with a certificate for their address.
 *
 * A KEM key cannot sign, so its certificate cannot be self-signed (RFC 9935 §4: ML-KEM certificates
 * carry keyEncipherment only). The ML-DSA certificate is self-signed and is the issuer of the ML-KEM
 * one: a personal mini-CA (cA, pathLen 0, keyCertSign and digitalSignature, e-mail protection), as
 * a recipient without a CA can have. A sender encrypts to the ML-KEM certificate (the one published
 * in the directory); the pair verifies under the ML-DSA certificate as its anchor.
 *
 * PKI.js builds the structures; it knows neither algorithm, so the public keys are set as raw
 * SubjectPublicKeyInfo and the signatures are made here with @noble/post-quantum (the empty context,
 * RFC 9881 §3). Private keys are stored in the seed form RFC 9881/9935 recommend
 * ([0] IMPLICIT OCTET STRING), which every reader derives the expanded key from.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { concatBytes, sha256Hex, toArrayBuffer } from '../bytes.ts';
import type { SmimePrivateEntry } from '../keyring.ts';

const ML_DSA_65 = '2.16.840.1.101.3.4.3.18';
const ML_KEM_768 = '2.16.840.1.101.3.4.4.2';

/** DER of a PrivateKeyInfo holding the seed form of an ML-KEM/ML-DSA private key. */
function seedPkcs8(oid: string, seed: Uint8Array): Uint8Array {
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid })] }),
      new asn1js.OctetString({
        // seed [0] IMPLICIT OCTET STRING
        valueHex: toArrayBuffer(concatBytes([Uint8Array.of(0x80, seed.length), seed])),
      }),
    ],
  });
  return new Uint8Array(info.toBER(false));
}

function distinguishedName(target: pkijs.RelativeDistinguishedNames, cn: string, email: string): void {
  target.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) }),
    new pkijs.AttributeTypeAndValue({
      type: '1.2.840.113549.1.9.1',
      value: new asn1js.IA5String({ value: email }),
    }),
  );
}

async function keyIdentifier(publicKey: Uint8Array): Promise<Uint8Array> {
  // RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the public key.
  return new Uint8Array(await crypto.subtle.digest('SHA-256', toArrayBuffer(publicKey))).slice(0, 20);
}

interface CertificateSpec {
  subjectCn: string;
  issuerCn: string;
  email: string;
  keyOid: string;
  publicKey: Uint8Array;
  ski: Uint8Array;
  aki: Uint8Array;
  ca: boolean;
  /** keyUsage as its DER BIT STRING content: [unused bits, bits…]. */
  keyUsage: [number, number];
  now: Date;
}

async function makeCertificate(
  spec: CertificateSpec,
  sign: (tbs: Uint8Array) => Uint8Array,
): Promise<Uint8Array> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = new asn1js.Integer({ valueHex: toArrayBuffer(serial) });
  distinguishedName(cert.subject, spec.subjectCn, spec.email);
  distinguishedName(cert.issuer, spec.issuerCn, spec.email);
  cert.notBefore.value = new Date(spec.now.getTime() - 5 * 60 * 1000);
  const notAfter = new Date(spec.now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 2);
  cert.notAfter.value = notAfter;
  // RFC 9881 §4 / RFC 9935 §4: the parameters are absent.
  cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({
    algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: spec.keyOid }),
    subjectPublicKey: new asn1js.BitString({ valueHex: toArrayBuffer(spec.publicKey) }),
  });
  const basic = new pkijs.BasicConstraints(spec.ca ? { cA: true, pathLenConstraint: 0 } : { cA: false });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: basic.toSchema().toBER(false) }),
    new pkijs.Extension({
      extnID: '2.5.29.15',
      critical: true,
      extnValue: new asn1js.BitString({
        valueHex: toArrayBuffer(Uint8Array.of(spec.keyUsage[1])),
        unusedBits: spec.keyUsage[0],
      }).toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.37',
      critical: false,
      extnValue: new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.4'] }).toSchema().toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.17',
      critical: false,
      extnValue: new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 1, value: spec.email })] })
        .toSchema()
        .toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.14',
      critical: false,
      extnValue: new asn1js.OctetString({ valueHex: toArrayBuffer(spec.ski) }).toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.35',
      critical: false,
      extnValue: new pkijs.AuthorityKeyIdentifier({
        keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(spec.aki) }),
      })
        .toSchema()
        .toBER(false),
    }),
  ];
  const sigAlg = new pkijs.AlgorithmIdentifier({ algorithmId: ML_DSA_65 });
  cert.signature = sigAlg;
  cert.signatureAlgorithm = sigAlg;
  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  cert.signatureValue = new asn1js.BitString({ valueHex: toArrayBuffer(sign(tbs)) });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}

/**
 * Generates the pair: [ML-KEM-768 encryption identity (its chain: the ML-DSA certificate),
 * ML-DSA-65 signing identity (self-signed)].
 */
export async function generatePostQuantumIdentity(
  name: string,
  email: string,
  now = new Date(),
): Promise<SmimePrivateEntry[]> {
  const { ml_dsa65 } = await import('@noble/post-quantum/ml-dsa.js');
  const { ml_kem768 } = await import('@noble/post-quantum/ml-kem.js');
  const dsaSeed = crypto.getRandomValues(new Uint8Array(32));
  const kemSeed = crypto.getRandomValues(new Uint8Array(64));
  const dsa = ml_dsa65.keygen(dsaSeed);
  const kem = ml_kem768.keygen(kemSeed);
  const sign = (tbs: Uint8Array): Uint8Array => ml_dsa65.sign(tbs, dsa.secretKey);
  const who = name || email;
  const signingCn = `${who} (ML-DSA-65 signing)`;
  const dsaSki = await keyIdentifier(dsa.publicKey);
  const signing = await makeCertificate(
    {
      subjectCn: signingCn,
      issuerCn: signingCn,
      email,
      keyOid: ML_DSA_65,
      publicKey: dsa.publicKey,
      ski: dsaSki,
      aki: dsaSki,
      ca: true,
      keyUsage: [2, 0x84], // digitalSignature (0), keyCertSign (5)
      now,
    },
    sign,
  );
  const encryption = await makeCertificate(
    {
      subjectCn: `${who} (ML-KEM-768 encryption)`,
      issuerCn: signingCn,
      email,
      keyOid: ML_KEM_768,
      publicKey: kem.publicKey,
      ski: await keyIdentifier(kem.publicKey),
      aki: dsaSki,
      ca: false,
      keyUsage: [5, 0x20], // keyEncipherment (2)
      now,
    },
    sign,
  );
  return [
    {
      type: 'smime-private',
      id: await sha256Hex(encryption),
      label: `${email} (ML-KEM-768, post-quantum encryption)`,
      certificate: encryption,
      chain: [signing],
      pkcs8: seedPkcs8(ML_KEM_768, kemSeed),
    },
    {
      type: 'smime-private',
      id: await sha256Hex(signing),
      label: `${email} (ML-DSA-65, post-quantum signing)`,
      certificate: signing,
      chain: [],
      pkcs8: seedPkcs8(ML_DSA_65, dsaSeed),
    },
  ];
}
