/**
 * Modern and post-quantum encryption: ML-KEM-512/768/1024 in KEMRecipientInfo (RFC 9629) with HKDF,
 * with and without ukm, in EnvelopedData and AuthEnvelopedData, made by Bouncy Castle
 * (../shared/vectors/pqc-cms); X25519 with HKDF and with the X9.63 KDF, RSA-OAEP and
 * ChaCha20-Poly1305 from draft-ireland-examples-cms on RFC 9216's keys; X448 and X25519 to
 * openssl-made keys (test/fixtures); KEKRecipientInfo (a pre-shared key the recipient types).
 * ML-KEM private keys in every form the LAMPS profile allows: seed, expanded, both; DER, PEM,
 * encrypted PEM, PKCS#12.
 */
import { join } from 'node:path';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import {
  MemoryKeyring,
  importKeyFile,
  importKeyFiles,
  openMessage,
  type KeyEntry,
} from '../../../src/core/index.ts';
import * as smime from '../../../src/core/smime/index.ts';
import { T, UNIVERSAL, children, content, is, readTlv } from '../../../src/core/smime/ber.ts';
import { splitCertificates } from '../../../src/core/smime/certs.ts';
import { tlv } from '../../../src/core/smime/kdf.ts';
import { buildKemRecipientInfo } from '../../../src/core/smime/kem-recipient.ts';
import { FIXTURES, requireFixtures, requireShared } from '../../helpers/paths.ts';
import { OIDS, alg, envelope, kekRecipient, octet, seq, xRecipient } from './cms-build.ts';
import {
  EXAMPLES,
  PQC,
  cmsFields,
  ctxFor,
  expectCode,
  files,
  flipAt,
  read,
  wrapSmime,
} from './modern-helpers.ts';

const shared = requireShared('post-quantum and modern S/MIME encryption vectors');
const fixtures = requireFixtures('modern S/MIME keys made by openssl');
const KEYS = join(FIXTURES, 'keys');
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

const KEM_OIDS: Record<string, string> = { '512': '1', '768': '2', '1024': '3' };
const kemBase = (level: string): string =>
  join(PQC, 'bc', `ml-kem-${level}-2.16.840.1.101.3.4.4.${KEM_OIDS[level]}`);
async function kemKeyring(level: string): Promise<MemoryKeyring> {
  return new MemoryKeyring(
    await importKeyFiles([read(`${kemBase(level)}_priv.der`), read(`${kemBase(level)}_ee.der`)]),
  );
}

/** The recipient info and the parts of a KEMRecipientInfo (bc files have exactly one recipient). */
function kemPlaces(der: Uint8Array): {
  kemct: number;
  encryptedKey: number;
  content: number;
  mac: number | null;
} {
  const f = cmsFields(der);
  const ri = children(der, f[1]!)[0]!;
  const kemri = children(der, children(der, ri)[1]!);
  const octets = kemri.filter((x) => is(x, UNIVERSAL, T.OCTET_STRING));
  const eci = children(der, f[2]!);
  const ct = eci[2]!;
  const ctStart = ct.constructed ? children(der, ct)[0]!.contentStart : ct.contentStart;
  const mac = f.find((x, i) => i > 2 && is(x, UNIVERSAL, T.OCTET_STRING));
  return {
    kemct: octets[0]!.contentStart + 100,
    encryptedKey: octets.at(-1)!.contentStart + 3,
    content: ctStart + 2,
    mac: mac ? mac.contentEnd - 1 : null,
  };
}

describe.skipIf(!shared)('ML-KEM KEMRecipientInfo (Bouncy Castle)', () => {
  const plaintext = (): string => text(read(join(PQC, 'bc', 'expected_plaintext.txt')));
  for (const level of ['512', '768', '1024']) {
    for (const f of shared ? files(join(PQC, 'bc'), new RegExp(`^ml-kem-${level}-.*_kemri_.*\\.der$`)) : []) {
      const name = f.replace(/^ml-kem-\d+-[\d.]+_kemri_/, `ML-KEM-${level} `).replace(/\.der$/, '');
      it(`${name}: decrypts to expected_plaintext.txt`, async () => {
        const der = read(join(PQC, 'bc', f));
        const { content: c, layer } = await smime.decryptCms(der, ctxFor(await kemKeyring(level)));
        expect(text(c)).toBe(plaintext());
        expect(layer.format).toBe(f.includes('_auth_') ? 'cms-auth-enveloped' : 'cms-enveloped');
        expect(layer.contentAlgorithm).toBe(f.includes('_auth_') ? 'AES-256-GCM' : 'AES-256-CBC');
        expect(layer.recipients).toEqual([
          expect.objectContaining({ type: 'key-encapsulation', algorithm: `ML-KEM-${level} (HKDF-SHA256)` }),
        ]);
        expect(layer.openedBy?.description).toMatch(/Test EE/);
      });

      it(`${name}: a changed kemct, wrapped key, ciphertext or tag byte fails, never shows content`, async () => {
        const der = read(join(PQC, 'bc', f));
        const ctx = ctxFor(await kemKeyring(level));
        const p = kemPlaces(der);
        const places = [p.kemct, p.encryptedKey, p.content, ...(p.mac !== null ? [p.mac] : [])];
        for (const at of places)
          await expectCode(smime.decryptCms(flipAt(der, at), ctx), 'integrity-failure');
      });
    }
  }

  it('another level’s key is not the recipient: no-matching-key naming the certificate', async () => {
    const der = read(`${kemBase('768')}_kemri_id-alg-hkdf-with-sha256.der`);
    const e = await expectCode(smime.decryptCms(der, ctxFor(await kemKeyring('512'))), 'no-matching-key');
    expect(e.message).toMatch(/BC ml-dsa-44 Test TA/);
  });

  it('through openMessage, wrapped as an S/MIME entity', async () => {
    const der = read(`${kemBase('1024')}_kemri_auth_id-alg-hkdf-with-sha256_ukm.der`);
    const m = await openMessage(wrapSmime(der, { smimeType: 'authEnveloped-data' }), {
      keyring: await kemKeyring('1024'),
    });
    expect(m.encrypted).toBe(true);
    expect(m.text.trim()).toBe(plaintext().trim());
    expect(m.layers[0]).toMatchObject({ kind: 'encrypted', integrityProtected: true });
  });
});

describe.skipIf(!shared)('ML-KEM private keys in every LAMPS form', () => {
  // The Bouncy Castle key is "both": SEQUENCE { seed, expandedKey }.
  const pkcs8Of = (oid: string, privateKey: Uint8Array): Uint8Array =>
    seq(tlv(0x02, Uint8Array.of(0)), alg(oid), octet(privateKey));
  const pem = (label: string, der: Uint8Array): Uint8Array =>
    new Uint8Array(
      Buffer.from(
        `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`,
      ),
    );
  const level = '768';
  const oid = '2.16.840.1.101.3.4.4.2';
  const parts = (): { seed: Uint8Array; expanded: Uint8Array } => {
    const der = read(`${kemBase(level)}_priv.der`);
    const priv = content(der, children(der, readTlv(der, 0))[2]!);
    const [s, e] = children(priv, readTlv(priv, 0));
    return { seed: content(priv, s!), expanded: content(priv, e!) };
  };
  const message = (): Uint8Array => read(`${kemBase(level)}_kemri_id-alg-hkdf-with-sha256_ukm.der`);
  const opens = async (entries: KeyEntry[]): Promise<void> => {
    const { content: c } = await smime.decryptCms(message(), ctxFor(new MemoryKeyring(entries)));
    expect(text(c)).toMatch(/Hello, World!/);
  };
  const cert = (): Uint8Array => read(`${kemBase(level)}_ee.der`);

  it('seed only ([0] IMPLICIT OCTET STRING), expanded only, and both; DER and PEM', async () => {
    const { seed, expanded } = parts();
    const forms = {
      seed: tlv(0x80, seed),
      expanded: octet(expanded),
      both: seq(octet(seed), octet(expanded)),
    };
    for (const body of Object.values(forms)) {
      const der = pkcs8Of(oid, body);
      await opens(await importKeyFiles([der, cert()]));
      // PEM key and certificate in one file, as openssl writes them.
      const bundle = new Uint8Array([...pem('PRIVATE KEY', der), ...pem('CERTIFICATE', cert())]);
      const entries = await importKeyFile(bundle);
      expect(entries.map((e) => e.type)).toEqual(['smime-private']);
      await opens(entries);
    }
  });

  it('encrypted PKCS#8 (PBES2, AES-256-CBC, HMAC-SHA256) and PKCS#12 (exported, read back)', async () => {
    const { seed } = parts();
    const der = pkcs8Of(oid, tlv(0x80, seed));
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
    const enc = forge.pki.encryptPrivateKeyInfo(asn1, 'kem-pass', {
      algorithm: 'aes256',
      prfAlgorithm: 'sha256',
    });
    const encDer = new Uint8Array(Buffer.from(forge.asn1.toDer(enc).getBytes(), 'binary'));
    await expectCode(importKeyFiles([encDer, cert()], { passphrase: 'wrong' }), 'bad-passphrase');
    const entries = await importKeyFiles([pem('ENCRYPTED PRIVATE KEY', encDer), cert()], {
      passphrase: 'kem-pass',
    });
    await opens(entries);
    const p12 = await smime.exportPkcs12(entries[0] as Parameters<typeof smime.exportPkcs12>[0], 'p12-pass');
    const back = await importKeyFile(p12, { passphrase: 'p12-pass' });
    expect(back[0]).toMatchObject({ type: 'smime-private' });
    await opens(back);
  });

  it('a "both" whose seed does not make its expanded key, and a key without its certificate, are refused', async () => {
    const { seed, expanded } = parts();
    const other = seed.slice();
    other[0] = other[0]! ^ 1;
    const e = await expectCode(
      importKeyFiles([pkcs8Of(oid, seq(octet(other), octet(expanded))), cert()]),
      'malformed',
    );
    expect(e.message).toMatch(/seed and expanded key do not match/);
    const lonely = await expectCode(importKeyFiles([pkcs8Of(oid, tlv(0x80, other)), cert()]), 'malformed');
    expect(lonely.message).toMatch(/without its certificate/);
  });
});

describe.skipIf(!shared)(
  'KEMRecipientInfo made here (building block for replies and gateway encryption)',
  () => {
    it('to an ML-KEM certificate: HKDF-SHA256/384, AES-128/256 wrap, ukm, by subject key identifier; CBC, GCM, ChaCha20-Poly1305', async () => {
      const keyring = await kemKeyring('512');
      const cert = read(`${kemBase('512')}_ee.der`);
      const body = new TextEncoder().encode('post-quantum hello');
      for (const [cipher, opts] of [
        ['aes-256-cbc', {}],
        ['aes-256-gcm', { ukm: new Uint8Array([1, 2, 3]), kekBytes: 16 as const }],
        ['chacha20-poly1305', { bySki: true, kdf: '1.2.840.113549.1.9.16.3.29' }],
      ] as const) {
        const der = await envelope(
          body,
          async (cek) => [await buildKemRecipientInfo(cert, cek, opts)],
          cipher,
        );
        const { content: c, layer } = await smime.decryptCms(der, ctxFor(keyring));
        expect(text(c), cipher).toBe('post-quantum hello');
        expect(layer.recipients[0]!.type).toBe('key-encapsulation');
      }
    });
  },
);

describe.skipIf(!shared)('draft-ireland-examples-cms encryption on RFC 9216 keys', () => {
  const ck = (f: string): Uint8Array => read(join(EXAMPLES, 'certs-and-keys', f));
  const bin = (n: string): Uint8Array => read(join(EXAMPLES, 'binary-files', `${n}.p7m`));
  const bob = () => importKeyFiles([ck('lamps-bob.decrypt.p8.pem'), ck('lamps-bob.encrypt.crt')]);
  const dana = () => importKeyFiles([ck('lamps-dana.decrypt.p8.pem'), ck('lamps-dana.encrypt.crt')]);
  const sample = 'This is some sample content.';

  it('RSA-OAEP; ChaCha20-Poly1305 (RFC 8103); X25519 with HKDF (RFC 8418); Bob and Dana each alone', async () => {
    const cases: [string, () => Promise<KeyEntry[]>, string, string][] = [
      ['encryptedForBobRSAOaep', bob, 'AES-128-CBC', 'RSAES-OAEP-SHA256'],
      ['authEnvelopedForBobChaCha20Poly1305', bob, 'ChaCha20-Poly1305', 'RSAES-OAEP-SHA256'],
      ['authEnvelopedForDanaX25519HKDF', dana, 'AES-128-GCM', 'X25519 (dhSinglePass-stdDH-hkdf-sha256)'],
      ['encryptedForBobAndDana', bob, 'AES-128-CBC', 'RSAES-OAEP-SHA256'],
      ['encryptedForBobAndDana', dana, 'AES-128-CBC', 'X25519 (dhSinglePass-stdDH-sha256kdf)'],
    ];
    for (const [name, who, cipher, kem] of cases) {
      const { content: c, layer } = await smime.decryptCms(bin(name), ctxFor(new MemoryKeyring(await who())));
      expect(text(c), name).toBe(sample);
      expect(layer.contentAlgorithm).toBe(cipher);
      expect(layer.recipients[layer.openedBy!.recipient]!.algorithm).toBe(kem);
      expect(layer.integrityProtected).toBe(cipher !== 'AES-128-CBC');
    }
  });

  it('a changed ChaCha20-Poly1305 tag or ciphertext, X25519 ephemeral key or wrapped key: integrity-failure', async () => {
    const chacha = bin('authEnvelopedForBobChaCha20Poly1305');
    const f = cmsFields(chacha);
    const mac = f.at(-1)!;
    const ct = children(chacha, f[2]!)[2]!;
    for (const at of [mac.contentEnd - 1, ct.contentStart + 1])
      await expectCode(
        smime.decryptCms(flipAt(chacha, at), ctxFor(new MemoryKeyring(await bob()))),
        'integrity-failure',
      );
    const x = bin('authEnvelopedForDanaX25519HKDF');
    const i = Buffer.from(x).indexOf(Buffer.from('BCCD3939', 'hex')); // the ephemeral public key
    const k = Buffer.from(x).indexOf(Buffer.from('27BC5CE0A386', 'hex')); // the wrapped key
    for (const at of [i + 5, k + 5])
      await expectCode(
        smime.decryptCms(flipAt(x, at), ctxFor(new MemoryKeyring(await dana()))),
        'integrity-failure',
      );
  });

  it('encryptedKekri asks for the pre-shared key by its identifier, and refuses a wrong one', async () => {
    const der = bin('encryptedKekri');
    const ctx = ctxFor(new MemoryKeyring());
    const ask = await expectCode(smime.decryptCms(der, ctx), 'bad-password');
    expect(ask.details).toMatchObject({
      passwordRequired: true,
      preSharedKey: true,
      keyId: '“keyid”',
      keyBits: 256,
    });
    expect(ask.message).toMatch(/pre-shared key \(“keyid”\)/);
    const wrong = await expectCode(
      smime.decryptCms(der, { ...ctx, password: '00'.repeat(32) }),
      'bad-password',
    );
    expect(wrong.message).toMatch(/is not correct/);
    const short = await expectCode(smime.decryptCms(der, { ...ctx, password: 'abcd' }), 'bad-password');
    expect(short.message).toMatch(/not a 256-bit key/);
  });
});

describe.skipIf(!fixtures)('X25519 and X448 to openssl-made keys; pre-shared keys of every size', () => {
  const body = new TextEncoder().encode('MARK-modern-agreement');
  it('X448 (HKDF) and X25519 (X9.63 KDF, ukm), opened with PKCS#8 PEM files (encrypted and plain) and PKCS#12', async () => {
    const ivanCert = splitCertificates(read(join(KEYS, 'ivan.pem')))[0]!;
    const heidiCert = splitCertificates(read(join(KEYS, 'heidi.pem')))[0]!;
    const x448 = await envelope(body, async (cek) => [await xRecipient(ivanCert, cek)], 'aes-256-gcm');
    const x25519 = await envelope(body, async (cek) => [
      await xRecipient(heidiCert, cek, { scheme: OIDS.x963Sha256Scheme, ukm: new Uint8Array(16).fill(7) }),
    ]);
    const ivanPem = await importKeyFile(read(join(KEYS, 'ivan.key-and-cert.pem')), {
      passphrase: 'ivan-pass',
    });
    const ivanP12 = await importKeyFile(read(join(KEYS, 'ivan.p12')), { passphrase: 'ivan-pass' });
    const heidiPem = await importKeyFile(read(join(KEYS, 'heidi.key-and-cert.pem')));
    for (const [der, entries, name] of [
      [x448, ivanPem, 'X448 (dhSinglePass-stdDH-hkdf-sha256)'],
      [x448, ivanP12, 'X448 (dhSinglePass-stdDH-hkdf-sha256)'],
      [x25519, heidiPem, 'X25519 (dhSinglePass-stdDH-sha256kdf)'],
    ] as const) {
      const { content: c, layer } = await smime.decryptCms(der, ctxFor(new MemoryKeyring(entries)));
      expect(text(c)).toBe('MARK-modern-agreement');
      expect(layer.recipients[0]!.algorithm).toBe(name);
    }
    await expectCode(smime.decryptCms(x448, ctxFor(new MemoryKeyring(heidiPem))), 'no-matching-key');
    await expectCode(
      importKeyFile(read(join(KEYS, 'ivan.key-and-cert.pem')), { passphrase: 'nope' }),
      'bad-passphrase',
    );
  });

  it('KEKs of 128, 192 and 256 bits, typed in hexadecimal (with spaces or colons) or base64', async () => {
    for (const bytes of [16, 24, 32]) {
      const kek = new Uint8Array(bytes).map((_, i) => (i * 37 + bytes) & 0xff);
      const der = await envelope(body, async (cek) => [
        await kekRecipient(new Uint8Array([0xca, 0xfe, bytes]), kek, cek),
      ]);
      const hex = Buffer.from(kek).toString('hex');
      for (const typed of [
        hex,
        hex.replace(/(..)/g, '$1:').slice(0, -1),
        hex.toUpperCase().replace(/(.{8})/g, '$1 '),
        Buffer.from(kek).toString('base64'),
      ]) {
        const { content: c, layer } = await smime.decryptCms(
          der,
          ctxFor(new MemoryKeyring(), { password: typed }),
        );
        expect(text(c), `${bytes}: ${typed}`).toBe('MARK-modern-agreement');
        expect(layer.recipients[0]).toMatchObject({
          type: 'kek',
          keyId: `cafe${bytes.toString(16).padStart(2, '0')}`,
        });
      }
    }
  });
});
