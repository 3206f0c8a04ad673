/**
 * A new S/MIME identity for the recipient: an RSA-2048 key (RSA key transport is what every S/MIME
 * sender can encrypt to) and a self-signed certificate for their address, made with PKI.js.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sha256Hex, toArrayBuffer } from '../bytes.ts';
import type { SmimePrivateEntry } from '../keyring.ts';

export async function generateSmimeIdentity(
  name: string,
  email: string,
  now = new Date(),
): Promise<SmimePrivateEntry> {
  const algorithm: RsaHashedKeyGenParams = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  };
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = new asn1js.Integer({ valueHex: toArrayBuffer(serial) });
  const dn = (target: pkijs.RelativeDistinguishedNames): void => {
    if (name)
      target.typesAndValues.push(
        new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: name }) }),
      );
    target.typesAndValues.push(
      new pkijs.AttributeTypeAndValue({
        type: '1.2.840.113549.1.9.1',
        value: new asn1js.IA5String({ value: email }),
      }),
    );
  };
  dn(cert.subject);
  dn(cert.issuer);
  const notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 2);
  cert.notBefore.value = notBefore;
  cert.notAfter.value = notAfter;
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);

  const keyUsageBits = new Uint8Array([0xa0]); // digitalSignature (bit 0), keyEncipherment (bit 2)
  const keyUsage = new asn1js.BitString({ valueHex: toArrayBuffer(keyUsageBits), unusedBits: 5 });
  const ski = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-1',
      cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView.slice(),
    ),
  );
  cert.extensions = [
    new pkijs.Extension({
      extnID: '2.5.29.19',
      critical: true,
      extnValue: new pkijs.BasicConstraints({ cA: false }).toSchema().toBER(false),
      parsedValue: new pkijs.BasicConstraints({ cA: false }),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.15',
      critical: true,
      extnValue: keyUsage.toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.37',
      critical: false,
      extnValue: new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.4'] }).toSchema().toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.17',
      critical: false,
      extnValue: new pkijs.GeneralNames({
        names: [new pkijs.GeneralName({ type: 1, value: email })],
      })
        .toSchema()
        .toBER(false),
    }),
    new pkijs.Extension({
      extnID: '2.5.29.14',
      critical: false,
      extnValue: new asn1js.OctetString({ valueHex: toArrayBuffer(ski) }).toBER(false),
    }),
  ];
  await cert.sign(keys.privateKey, 'SHA-256');
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    type: 'smime-private',
    id: await sha256Hex(der),
    label: `${email} (self-signed)`,
    certificate: der,
    chain: [],
    pkcs8,
  };
}
