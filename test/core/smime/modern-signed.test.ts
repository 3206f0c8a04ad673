/**
 * Modern and post-quantum signatures in SignedData: ML-DSA-44/65/87 (pure and HashML-DSA) and
 * SLH-DSA made by Bouncy Castle and OpenSSL 3.5 (../shared/vectors/pqc-cms), Ed25519 and RSA from
 * draft-ireland-examples-cms on RFC 9216's keys, and chains signed with them — including the RFC
 * 9216 cross-certificates, so an Ed25519 CA signs an RSA CA and the other way round.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openMessage } from '../../../src/core/index.ts';
import * as smime from '../../../src/core/smime/index.ts';
import { raw } from '../../../src/core/smime/ber.ts';
import { parseCertificate, splitCertificates } from '../../../src/core/smime/certs.ts';
import { verifyModern } from '../../../src/core/smime/modern-signatures.ts';
import { splitKeyFile } from '../../../src/core/smime/pkcs8.ts';
import { FIXTURES, requireFixtures, requireShared } from '../../helpers/paths.ts';
import { signModern } from './cms-build.ts';
import {
  EXAMPLES,
  PQC,
  RFC9216,
  ctxFor,
  files,
  flipAt,
  keyringOf,
  read,
  signedDataPlaces,
  wrapSmime,
} from './modern-helpers.ts';

const shared = requireShared('post-quantum and modern S/MIME signature vectors');
const NO_EMAIL = /names no e-mail address/;

describe.skipIf(!shared)('ML-DSA and SLH-DSA SignedData (Bouncy Castle, OpenSSL 3.5)', () => {
  for (const dir of ['bc', 'ossl35']) {
    const plaintext = (): Uint8Array => read(join(PQC, dir, 'expected_plaintext.txt'));
    const anchor = () => keyringOf([{ path: join(PQC, dir, 'ta.der'), trusted: true }]);
    for (const f of shared ? files(join(PQC, dir), /_signed_attrs\.der$/) : []) {
      const name = `${dir}/${f.replace(/-2\.16\.840.*$/, '')}`;
      it(`${name}: the signature holds and the signer chains to ta.der`, async () => {
        const der = read(join(PQC, dir, f));
        expect(smime.cmsKind(der)).toBe('signed');
        const { content, layer } = await smime.verifySignedData(der, null, ctxFor(await anchor()));
        expect(Buffer.from(content).equals(Buffer.from(plaintext()))).toBe(true);
        expect(layer.signatures).toHaveLength(1);
        const s = layer.signatures[0]!;
        // The vectors' end-entity certificates name no e-mail address, which S/MIME requires of a
        // signer: that (and only that) keeps the verdict from "valid".
        expect(s.problems, s.problems.join('; ')).toHaveLength(1);
        expect(s.problems[0]).toMatch(NO_EMAIL);
        expect(s.status).toBe('untrusted');
        expect(s.signatureAlgorithm).toMatch(/^(Hash)?(ML|SLH)-DSA-/);
        expect(s.certificate?.publicKeyAlgorithm).toMatch(/^(Hash)?(ML|SLH)-DSA-/);
        expect(s.chain.length).toBe(2);
        expect(s.chain.at(-1)!.subject).toMatch(/CN=(BC ml-dsa-44 Test TA|OpenSSL 3.5 ml-dsa-44 Root)/);
        expect(s.chain.at(-1)!.signatureAlgorithm).toBe('ML-DSA-44');
      });

      it(`${name}: a changed content byte, signature byte or CA signature byte is caught`, async () => {
        const der = read(join(PQC, dir, f));
        const ctx = ctxFor(await anchor());
        const text = Buffer.from(der).indexOf(Buffer.from(plaintext()));
        expect(text).toBeGreaterThan(0);
        for (const bad of [flipAt(der, text + 3), flipAt(der, signedDataPlaces(der).signatures[0]!)]) {
          const s = (await smime.verifySignedData(bad, null, ctx)).layer.signatures[0]!;
          expect(s.status, s.problems.join('; ')).toBe('invalid');
        }
        // The end-entity certificate's last byte is in its CA's signature: the path breaks.
        const ee = signedDataPlaces(der).certificates.find((c) => {
          const subject = Buffer.from(raw(der, c)).toString('latin1');
          return (
            / (Test EE|ml-dsa-\d\d|slh-dsa)/.test(subject) && !/Root.*Root|Test TA.*Test TA/.test(subject)
          );
        })!;
        const bad = flipAt(der, ee.end - 1);
        const s = (await smime.verifySignedData(bad, null, ctx)).layer.signatures[0]!;
        expect(s.status).toBe('untrusted');
        expect(s.chain).toEqual([]);
        expect(s.problems.join(' ')).toMatch(/does not chain to a trusted certificate authority/);
      });
    }

    it(`${dir}: without ta.der as an anchor, no signer is trusted`, async () => {
      const f = files(join(PQC, dir), /ml-dsa-65.*_signed_attrs\.der$/)[0]!;
      const s = (await smime.verifySignedData(read(join(PQC, dir, f)), null, ctxFor(await keyringOf([]))))
        .layer.signatures[0]!;
      expect(s.status).toBe('untrusted');
      expect(s.problems.join(' ')).toMatch(/No trusted certificate authority/);
    });
  }

  it('a key may only verify signatures of its own parameter set and mode', async () => {
    const ta = read(join(PQC, 'bc', 'ta.der'));
    const cert = parseCertificate(ta);
    const spki = new Uint8Array(cert.cert.subjectPublicKeyInfo.toSchema().toBER(false));
    const tbs = new Uint8Array(cert.cert.tbsView);
    const sig = cert.cert.signatureValue.valueBlock.valueHexView;
    expect(await verifyModern('2.16.840.1.101.3.4.3.17', spki, tbs, sig)).toBe(true);
    expect(await verifyModern('2.16.840.1.101.3.4.3.18', spki, tbs, sig)).toBe(false); // ML-DSA-65
    expect(await verifyModern('2.16.840.1.101.3.4.3.32', spki, tbs, sig)).toBe(false); // pre-hash mode
    expect(await verifyModern('1.3.101.112', spki, tbs, sig)).toBe(false); // Ed25519
    expect(await verifyModern('1.2.3.4', spki, tbs, sig)).toBe('unsupported');
  });

  it('through openMessage, wrapped as an S/MIME entity', async () => {
    const f = files(join(PQC, 'ossl35'), /slh-dsa.*_signed_attrs\.der$/)[0]!;
    const m = await openMessage(wrapSmime(read(join(PQC, 'ossl35', f)), { smimeType: 'signed-data' }), {
      keyring: await keyringOf([{ path: join(PQC, 'ossl35', 'ta.der'), trusted: true }]),
    });
    expect(m.protocol).toBe('smime');
    expect(m.text.trim()).toBe(
      Buffer.from(read(join(PQC, 'ossl35', 'expected_plaintext.txt')))
        .toString()
        .trim(),
    );
    expect(m.signature.status).toBe('untrusted');
    expect(m.signature.signatureAlgorithm).toBe('SLH-DSA-SHA2-128s');
    expect(m.signature.problems.join(' ')).toMatch(NO_EMAIL);
  });
});

describe.skipIf(!shared)('draft-ireland-examples-cms signatures on RFC 9216 keys', () => {
  const bin = (n: string): Uint8Array => read(join(EXAMPLES, 'binary-files', `${n}.p7m`));
  const content = Buffer.from('This is some sample content.');
  const ed25519Ca = join(RFC9216, 'Sample_LAMPS_Ed25519_Certification_Authority.selfsigned.pem');
  const rsaCa = join(RFC9216, 'Sample_LAMPS_RSA_Certification_Authority.selfsigned.pem');

  it('Carlos, Ed25519, under the Ed25519 CA: valid', async () => {
    const { layer, content: c } = await smime.verifySignedData(
      bin('signedByCarlosEd25519'),
      null,
      ctxFor(await keyringOf([{ path: ed25519Ca, trusted: true }]), { fromAddress: 'carlos@smime.example' }),
    );
    expect(Buffer.from(c).equals(content)).toBe(true);
    const s = layer.signatures[0]!;
    expect(s.status, s.problems.join('; ')).toBe('valid');
    expect(s.signer).toBe('carlos@smime.example');
    expect(s.fromMatches).toBe(true);
    expect(s.signatureAlgorithm).toBe('Ed25519');
    expect(s.certificate?.publicKeyAlgorithm).toBe('Ed25519');
    expect(s.chain.map((x) => x.signatureAlgorithm)).toEqual(['Ed25519', 'Ed25519']);
  });

  it('Carlos under the RSA CA alone: untrusted; with the cross-certificate: valid through it', async () => {
    const der = bin('signedByCarlosEd25519');
    const alone = await smime.verifySignedData(
      der,
      null,
      ctxFor(await keyringOf([{ path: rsaCa, trusted: true }])),
    );
    expect(alone.layer.signatures[0]!.status).toBe('untrusted');
    const cross = join(RFC9216, 'Sample_LAMPS_Ed25519_Certification_Authority.crosssigned.pem');
    const k = await keyringOf([{ path: rsaCa, trusted: true }, { path: cross }]);
    const s = (await smime.verifySignedData(der, null, ctxFor(k))).layer.signatures[0]!;
    expect(s.status, s.problems.join('; ')).toBe('valid');
    expect(s.chain.map((x) => x.signatureAlgorithm)).toEqual([
      'Ed25519',
      'sha256WithRSAEncryption',
      'sha512WithRSAEncryption',
    ]);
  });

  it('Alice (RSA) under the Ed25519 CA through the RSA CA cross-signed with Ed25519: valid', async () => {
    const cross = join(RFC9216, 'Sample_LAMPS_RSA_Certification_Authority.crosssigned.pem');
    const k = await keyringOf([{ path: ed25519Ca, trusted: true }, { path: cross }]);
    const s = (await smime.verifySignedData(bin('signedByAliceRSA'), null, ctxFor(k))).layer.signatures[0]!;
    expect(s.status, s.problems.join('; ')).toBe('valid');
    expect(s.chain[1]!.signatureAlgorithm).toBe('Ed25519');
  });

  it('RSA PKCS#1 v1.5, RSASSA-PSS, detached, and two signers without certificates', async () => {
    const k = await keyringOf([
      { path: ed25519Ca, trusted: true },
      { path: rsaCa, trusted: true },
      { path: join(EXAMPLES, 'certs-and-keys', 'lamps-alice.crt') },
      { path: join(EXAMPLES, 'certs-and-keys', 'lamps-carlos.crt') },
    ]);
    for (const name of [
      'signedByAliceRSA',
      'signedByAliceRSAPSS',
      'signedByCarlosDetached',
      'signedByAliceAndCarlosNoCerts',
    ]) {
      const detached = name.includes('Detached') ? new Uint8Array(content) : null;
      const { layer } = await smime.verifySignedData(bin(name), detached, ctxFor(k));
      for (const s of layer.signatures) expect(s.status, `${name}: ${s.problems.join('; ')}`).toBe('valid');
      expect(layer.signatures.length).toBe(name.includes('AndCarlos') ? 2 : 1);
    }
  });

  it('a changed byte in the content, the Ed25519 signature, or Carlos’s certificate signature is caught', async () => {
    const der = bin('signedByCarlosEd25519');
    const ctx = ctxFor(await keyringOf([{ path: ed25519Ca, trusted: true }]));
    const i = Buffer.from(der).indexOf(content);
    for (const bad of [flipAt(der, i + 5), flipAt(der, signedDataPlaces(der).signatures[0]!)])
      expect((await smime.verifySignedData(bad, null, ctx)).layer.signatures[0]!.status).toBe('invalid');
    // Carlos's certificate is the only one in the bag; its last byte is in the CA's Ed25519 signature.
    const cert = signedDataPlaces(der).certificates[0]!;
    const s = (await smime.verifySignedData(flipAt(der, cert.end - 1), null, ctx)).layer.signatures[0]!;
    expect(s.status).toBe('untrusted');
    expect(s.problems.join(' ')).toMatch(/does not chain/);
  });
});

describe.skipIf(!requireFixtures('EdDSA keys and chains made by openssl'))(
  'Ed25519 and Ed448 signers on openssl-made keys and chains',
  () => {
    const KEYS = join(FIXTURES, 'keys');
    const der = (f: string): Uint8Array => splitCertificates(read(join(KEYS, f)))[0]!;
    const pkcs8 = (f: string): Uint8Array => splitKeyFile(read(join(KEYS, f))).keys[0]!;
    const content = new TextEncoder().encode('Content-Type: text/plain\r\n\r\nMARK-eddsa\r\n');

    it('Ed25519 under an Ed25519 issuing CA and root: valid; under the RSA root only: untrusted', async () => {
      const signed = await signModern({
        content,
        certificate: der('frank.pem'),
        pkcs8: pkcs8('frank.key'),
        chain: [der('ed-inter.pem')],
      });
      const edRoot = await keyringOf([{ path: join(KEYS, 'ed-root.pem'), trusted: true }]);
      const s = (await smime.verifySignedData(signed, null, ctxFor(edRoot))).layer.signatures[0]!;
      expect(s.status, s.problems.join('; ')).toBe('valid');
      expect(s.signer).toBe('frank@example.test');
      expect(s.digestAlgorithm).toBe('SHA-512');
      expect(s.chain.map((c) => c.publicKeyAlgorithm)).toEqual(['Ed25519', 'Ed25519', 'Ed25519']);
      const rsaRoot = await keyringOf([{ path: join(KEYS, 'root.pem'), trusted: true }]);
      expect((await smime.verifySignedData(signed, null, ctxFor(rsaRoot))).layer.signatures[0]!.status).toBe(
        'untrusted',
      );
      const m = await openMessage(
        wrapSmime(signed, { from: 'frank@example.test', smimeType: 'signed-data' }),
        {
          keyring: edRoot,
        },
      );
      expect(m.signature.status).toBe('valid');
      expect(m.signature.fromMatches).toBe(true);
      expect(m.text).toContain('MARK-eddsa');
    });

    it('Ed448 with a SHAKE256 message digest (RFC 8419) under the RSA chain: valid; altered: invalid', async () => {
      const signed = await signModern({
        content,
        certificate: der('grace.pem'),
        pkcs8: pkcs8('grace.key'),
        chain: [der('inter.pem')],
      });
      const k = await keyringOf([{ path: join(KEYS, 'root.pem'), trusted: true }]);
      const s = (await smime.verifySignedData(signed, null, ctxFor(k))).layer.signatures[0]!;
      expect(s.status, s.problems.join('; ')).toBe('valid');
      expect(s.signatureAlgorithm).toBe('Ed448');
      expect(s.digestAlgorithm).toBe('SHAKE256');
      const i = Buffer.from(signed).indexOf(Buffer.from('MARK-eddsa'));
      expect(
        (await smime.verifySignedData(flipAt(signed, i), null, ctxFor(k))).layer.signatures[0]!.status,
      ).toBe('invalid');
      expect(
        (
          await smime.verifySignedData(
            flipAt(signed, signedDataPlaces(signed).signatures[0]!),
            null,
            ctxFor(k),
          )
        ).layer.signatures[0]!.status,
      ).toBe('invalid');
    });
  },
);
