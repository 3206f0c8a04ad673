/**
 * Post-quantum key generation: an ML-KEM-768 encryption certificate issued by a self-signed ML-DSA-65
 * signing certificate, for the recipient's address. Senders encrypt to the first (KEMRecipientInfo),
 * the second signs; both certificates are well-formed for openssl, their signatures hold, the keys
 * are stored in the seed form and survive PKCS#8 and PKCS#12 round trips.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryKeyring,
  generateIdentity,
  importKeyFile,
  importKeyFiles,
  openMessage,
  type SmimePrivateEntry,
} from '../../../src/core/index.ts';
import * as smime from '../../../src/core/smime/index.ts';
import { children, readTlv, raw } from '../../../src/core/smime/ber.ts';
import { buildKemRecipientInfo } from '../../../src/core/smime/kem-recipient.ts';
import { spkiParts, verifyModern } from '../../../src/core/smime/modern-signatures.ts';
import { envelope, signModern } from './cms-build.ts';
import { ctxFor, flipAt, wrapSmime } from './modern-helpers.ts';

const ML_DSA_65 = '2.16.840.1.101.3.4.3.18';
const ML_KEM_768 = '2.16.840.1.101.3.4.4.2';

/** tbsCertificate, signature algorithm OID and signature of a certificate. */
function certParts(der: Uint8Array): { tbs: Uint8Array; spki: Uint8Array; signature: Uint8Array } {
  const [tbs, , sig] = children(der, readTlv(der, 0));
  const tf = children(der, tbs!);
  const bits = raw(der, sig!);
  const sigBytes = bits.subarray(bits.length - (sig!.contentEnd - sig!.contentStart) + 1);
  return { tbs: raw(der, tbs!), spki: raw(der, tf[6]!), signature: sigBytes };
}

describe('post-quantum S/MIME key generation (ML-KEM-768 + ML-DSA-65)', () => {
  let kem: SmimePrivateEntry;
  let dsa: SmimePrivateEntry;
  let dir = '';
  beforeAll(async () => {
    const made = await generateIdentity('smime-pq', 'Bob Example', 'bob@example.net');
    expect(made.map((e) => e.type)).toEqual(['smime-private', 'smime-private']);
    [kem, dsa] = made as [SmimePrivateEntry, SmimePrivateEntry];
    dir = mkdtempSync(join(tmpdir(), 'sealpost-pq-gen-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names: ML-KEM-768 certificate issued by the self-signed ML-DSA-65 certificate, both for the address', async () => {
    const k = await smime.describeCertificate(kem.certificate);
    const d = await smime.describeCertificate(dsa.certificate);
    expect(k.publicKeyAlgorithm).toBe('ML-KEM-768');
    expect(k.signatureAlgorithm).toBe('ML-DSA-65');
    expect(k.keyUsage).toEqual(['keyEncipherment']);
    expect(k.emailAddresses).toContain('bob@example.net');
    expect(k.issuer).toBe(d.subject);
    expect(k.isCA).toBe(false);
    expect(d.publicKeyAlgorithm).toBe('ML-DSA-65');
    expect(d.selfSigned).toBe(true);
    expect(d.keyUsage).toEqual(expect.arrayContaining(['digitalSignature', 'keyCertSign']));
    expect(d.extendedKeyUsage).toContain('emailProtection');
    expect(kem.chain).toEqual([dsa.certificate]);
    expect(kem.label).toMatch(/ML-KEM-768/);
    expect(dsa.label).toMatch(/ML-DSA-65/);
  });

  it('both certificate signatures verify with the ML-DSA-65 key; a changed byte does not', async () => {
    const issuer = certParts(dsa.certificate).spki;
    expect(spkiParts(issuer).oid).toBe(ML_DSA_65);
    expect(spkiParts(certParts(kem.certificate).spki).oid).toBe(ML_KEM_768);
    for (const der of [kem.certificate, dsa.certificate]) {
      const p = certParts(der);
      expect(await verifyModern(ML_DSA_65, issuer, p.tbs, p.signature)).toBe(true);
      expect(await verifyModern(ML_DSA_65, issuer, flipAt(p.tbs, 40), p.signature)).toBe(false);
    }
  });

  it('openssl reads both certificates and the private keys (DER well-formed)', () => {
    for (const [name, e] of [
      ['kem', kem],
      ['dsa', dsa],
    ] as const) {
      writeFileSync(join(dir, `${name}.der`), e.certificate);
      writeFileSync(join(dir, `${name}.p8`), e.pkcs8);
      const out = execFileSync(
        'openssl',
        [
          'x509',
          '-inform',
          'DER',
          '-in',
          join(dir, `${name}.der`),
          '-noout',
          '-subject',
          '-ext',
          'subjectAltName',
        ],
        { encoding: 'utf8' },
      );
      expect(out).toMatch(/email:bob@example.net/);
      const asn1 = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', join(dir, `${name}.p8`)], {
        encoding: 'utf8',
      });
      expect(asn1).toMatch(
        name === 'kem' ? /2\.16\.840\.1\.101\.3\.4\.4\.2/ : /2\.16\.840\.1\.101\.3\.4\.3\.18/,
      );
    }
  });

  it('keys in the seed form: a PKCS#8 file pairs with its certificate; PKCS#12 export reads back', async () => {
    // [0] IMPLICIT OCTET STRING of 64 (ML-KEM) and 32 (ML-DSA) bytes inside privateKey.
    expect(kem.pkcs8.length).toBeLessThan(100);
    expect(dsa.pkcs8.length).toBeLessThan(70);
    const paired = await importKeyFiles([kem.pkcs8, kem.certificate, dsa.certificate]);
    expect(paired.find((e) => e.type === 'smime-private')?.id).toBe(kem.id);
    const p12 = await smime.exportPkcs12(dsa, 'export-pass');
    const back = await importKeyFile(p12, { passphrase: 'export-pass' });
    expect(back.find((e) => e.type === 'smime-private')).toMatchObject({ id: dsa.id, pkcs8: dsa.pkcs8 });
  });

  it('a sender encrypts to the ML-KEM certificate (KEMRecipientInfo); the pair opens it, tampered fails', async () => {
    const body = new TextEncoder().encode(
      'Content-Type: text/plain\r\n\r\npost-quantum hello to a generated key\r\n',
    );
    const der = await envelope(
      body,
      async (cek) => [await buildKemRecipientInfo(kem.certificate, cek)],
      'aes-256-gcm',
    );
    const keyring = new MemoryKeyring([kem, dsa]);
    const report = await openMessage(wrapSmime(der), { keyring });
    expect(report.text).toMatch(/post-quantum hello to a generated key/);
    const layer = report.layers[0]!;
    expect(layer.kind === 'encrypted' && layer.recipients[0]!.algorithm).toBe('ML-KEM-768 (HKDF-SHA256)');
    await expect(smime.decryptCms(flipAt(der, der.length - 3), ctxFor(keyring))).rejects.toMatchObject({
      code: 'integrity-failure',
    });
  });

  it('the ML-DSA-65 key signs; with its certificate trusted the signature is valid, otherwise untrusted', async () => {
    const content = new TextEncoder().encode('Content-Type: text/plain\r\n\r\nsigned post-quantum\r\n');
    const der = await signModern({ content, certificate: dsa.certificate, pkcs8: dsa.pkcs8 });
    const eml = wrapSmime(der, { from: 'bob@example.net', smimeType: 'signed-data' });
    const anchor = await importKeyFile(dsa.certificate, { trusted: true });
    const trusted = await openMessage(eml, { keyring: new MemoryKeyring(anchor) });
    expect(trusted.signature.status).toBe('valid');
    expect(trusted.signature.signatureAlgorithm).toBe('ML-DSA-65');
    const stranger = await openMessage(eml, { keyring: new MemoryKeyring() });
    expect(stranger.signature.status).not.toBe('valid');
  });
});
