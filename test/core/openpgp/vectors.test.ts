/**
 * RFC 9580 conformance from ../shared/vectors/rpgp (see its SOURCES.md): v4 and v6 keys, SEIPD v1
 * and v2 (AEAD), Argon2 and AEAD password messages, cleartext signatures, padding packets; and the
 * malformed-structure, fuzzer and compression-quine inputs, which must give a SealpostError.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring, SealpostError } from '../../../src/core/index.ts';
import { decryptOpenPgp, importOpenPgpKeys, openOpenPgpSigned } from '../../../src/core/openpgp/index.ts';
import { VECTORS, requireShared } from '../../helpers/paths.ts';
import { context, keyringOf, read, sealpostError, text } from './helpers.ts';

const RPGP = join(VECTORS, 'rpgp/tests');
const v = (p: string): string => join(RPGP, p);
const HELLO = 'hello world\n';

/** RFC 9580 key sets OpenPGP.js 6.3 opens completely. */
const SUPPORTED = [
  {
    dir: 'v4-ed25519-x25519',
    version: 4,
    csf: 'Ed25519 (legacy EdDSA)',
    seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'],
  },
  { dir: 'v4-legacy', version: 4, seipd: ['enc-seipdv2.msg'] },
  { dir: 'v4-nistp', version: 4, seipd: ['enc-seipdv2.msg'] },
  { dir: 'v4-rsa', version: 4, seipd: ['enc-seipdv2.msg'] },
  { dir: 'v6-25519-annex-a-4', version: 6, csf: 'Ed25519', seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'] },
  { dir: 'v6-ed25519-x448', version: 6, csf: 'Ed25519', seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'] },
  { dir: 'v6-ed448-x448', version: 6, seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'] },
  { dir: 'v6-nistp', version: 6, csf: 'ECDSA P-256', seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'] },
  { dir: 'v6-rsa', version: 6, csf: 'RSA 4096', seipd: ['enc-seipdv1.msg', 'enc-seipdv2.msg'] },
];

describe.skipIf(!requireShared('the RFC 9580 vectors (rpgp)'))('OpenPGP: RFC 9580 vectors', () => {
  for (const set of SUPPORTED) {
    it(`${set.dir}: imports the transferable secret key and decrypts ${set.seipd.join(', ')}`, async () => {
      const entries = await importOpenPgpKeys(read(v(`rfc9580/${set.dir}/tsk.asc`)), undefined, true);
      expect(entries).toEqual([expect.objectContaining({ type: 'openpgp-private' })]);
      expect(entries[0]!.id).toHaveLength(set.version === 6 ? 64 : 40);
      const keyring = new MemoryKeyring(entries);
      for (const m of set.seipd) {
        const r = await decryptOpenPgp(read(v(`rfc9580/${set.dir}/${m}`)), context(keyring, null));
        expect(text(r.content)).toBe(HELLO);
        expect(r.layer.integrityProtected).toBe(true);
        expect(r.layer.openedBy).toMatchObject({ recipient: 0 });
        // (v4-ed25519-x25519's "enc-seipdv2.msg" actually holds a SEIPD v1 packet.)
        if (m === 'enc-seipdv2.msg' && set.dir !== 'v4-ed25519-x25519')
          expect(r.layer.contentAlgorithm).toMatch(/^AES-(128|256)-(OCB|GCM|EAX)$/);
        else expect(r.layer.contentAlgorithm).toMatch(/^AES-(128|256)$/);
      }
    });
    if (set.csf) {
      it(`${set.dir}: verifies the cleartext signature (v${set.version}, ${set.csf})`, async () => {
        const keyring = new MemoryKeyring(
          await importOpenPgpKeys(read(v(`rfc9580/${set.dir}/tsk.asc`)), undefined, false),
        );
        const { content, layer } = await openOpenPgpSigned(
          read(v(`rfc9580/${set.dir}/csf.msg`)),
          context(keyring, null),
        );
        expect(text(content)).toBe(HELLO);
        expect(layer.format).toBe('openpgp-cleartext');
        // Our own secret key counts as a trusted signer.
        expect(layer.signatures).toEqual([
          expect.objectContaining({
            status: 'valid',
            openpgpKey: expect.objectContaining({ version: set.version, algorithm: set.csf }),
          }),
        ]);
      });
    }
  }

  it('v6-ed448-x448: its cleartext message names the armor hash OpenPGP.js lacks (unsupported)', async () => {
    const keyring = new MemoryKeyring(
      await importOpenPgpKeys(read(v('rfc9580/v6-ed448-x448/tsk.asc')), undefined, false),
    );
    const e = await sealpostError(() =>
      openOpenPgpSigned(read(v('rfc9580/v6-ed448-x448/csf.msg')), context(keyring, null)),
    );
    expect(e.code).toBe('unsupported');
    expect(e.details.algorithm).toBe('SHA3-512');
  });

  it('v6-legacy_illegal: a v6 key on a legacy curve is refused (malformed), its message has no key', async () => {
    const e = await sealpostError(() =>
      importOpenPgpKeys(read(v('rfc9580/v6-legacy_illegal/tsk.asc')), undefined, false),
    );
    expect(e.code).toBe('malformed');
    const e2 = await sealpostError(() =>
      decryptOpenPgp(
        read(v('rfc9580/v6-legacy_illegal/enc-seipdv2.msg')),
        context(new MemoryKeyring(), null),
      ),
    );
    expect(e2.code).toBe('no-matching-key');
    const { layer } = await openOpenPgpSigned(
      read(v('rfc9580/v6-legacy_illegal/csf.msg')),
      context(new MemoryKeyring(), null),
    );
    expect(layer.signatures[0]!.status).toBe('unknown-signer');
  });

  for (const m of ['aead/eax.msg', 'aead/gcm.msg', 'aead/ocb.msg']) {
    it(`password message ${m} (SKESK v6 + SEIPD v2); a wrong password is bad-password`, async () => {
      const data = read(v(`unit-tests/${m}`));
      const r = await decryptOpenPgp(data, context(new MemoryKeyring(), null, { password: 'password' }));
      expect(text(r.content)).toBe('Hello, world!');
      expect(r.layer.recipients[0]).toMatchObject({ type: 'openpgp-password' });
      expect(r.layer.contentAlgorithm).toBe(`AES-128-${m.slice(5, 8).toUpperCase()}`);
      const wrong = await sealpostError(() =>
        decryptOpenPgp(data, context(new MemoryKeyring(), null, { password: 'wrong' })),
      );
      expect(wrong.code).toBe('bad-password');
    });
  }

  // Each Argon2 derivation of these messages takes seconds (RFC 9580's 2 GiB parameter set):
  // one of the three is enough to show it works within our memory limit.
  it('password message argon2/aes128.msg (Argon2 S2K)', async () => {
    const r = await decryptOpenPgp(
      read(v('unit-tests/argon2/aes128.msg')),
      context(new MemoryKeyring(), null, { password: 'password' }),
    );
    expect(text(r.content)).toBe('Hello, world!');
    expect(r.layer.recipients[0]!.algorithm).toMatch(/argon2/);
  }, 240_000); // seconds when idle; minutes on a loaded 2-core machine (it timed out at 60 s there)
  it('cleartext signatures: dash-escaping, empty text, leading newline; a non-Hash header is refused', async () => {
    const csf = await keyringOf([{ path: v('unit-tests/csf/alice.pub.asc'), trusted: true }]);
    const open = (p: string, k = csf) => openOpenPgpSigned(read(v(p)), context(k, null));
    expect(text((await open('unit-tests/csf/msg.csf')).content)).toBe(HELLO);
    expect((await open('unit-tests/csf/msg.csf')).layer.signatures[0]!.status).toBe('valid');
    expect(text((await open('unit-tests/csf/empty.csf')).content)).toBe('');
    expect(text((await open('unit-tests/csf/starts-with-newline.csf')).content)).toBe('\ntest\n');
    expect((await sealpostError(() => open('unit-tests/csf/gpg.fail-notdash'))).code).toBe('malformed');
    const bob = await keyringOf([{ path: v('unit-tests/cleartext-key-01.asc') }]);
    const grocery = await open('unit-tests/cleartext-msg-01.asc', bob);
    expect(text(grocery.content)).toMatch(/^From the grocery store we need:\n\n- tofu\n/);
    expect(grocery.layer.signatures[0]!.status).toBe('valid');
    // Text before the armor is not ours to show: refused.
    expect((await sealpostError(() => open('unit-tests/cleartext-msg-02-fail.asc', bob))).code).toBe(
      'malformed',
    );
  });

  it('padding packets (RFC 9580 §5.14) are ignored', async () => {
    const keyring = await keyringOf([{ path: v('unit-tests/padding/alice.key') }]);
    for (const [m, want] of [
      ['msg-long-padding.pgp', 'hello\n'],
      ['msg-short-padding.pgp', 'hello\n'],
      ['rpgp-0-10.enc.asc', 'hello world'],
      ['rpgp-current.enc.asc', 'hello world'],
    ] as const) {
      expect(
        text((await decryptOpenPgp(read(v(`unit-tests/padding/${m}`)), context(keyring, null))).content),
      ).toBe(want);
    }
  });

  it('signatures of an unknown version or hash are reported as not checkable, next to the good one', async () => {
    const keyring = await keyringOf([{ path: v('draft-bre-openpgp-samples-00/bob.sec.asc') }]);
    const future = await decryptOpenPgp(read(v('message_future_signature.asc')), context(keyring, null));
    expect(future.signed!.signatures.map((s) => s.status)).toEqual(['valid', 'unknown-signer']);
    const unknownHash = await decryptOpenPgp(read(v('sigs/unknown_hash.sig.asc')), context(keyring, null));
    expect(unknownHash.signed!.signatures.map((s) => s.status)).not.toContain('valid');
    expect(unknownHash.signed!.signatures.map((s) => s.status)).not.toContain('invalid');
  });

  const malformedInputs = [
    'literal_eating_mdc.asc',
    'multi_message_1.asc',
    'partial_invalid_short_last.asc',
    'partial_invalid_two_fixed.asc',
    'partial_invalid_two_fixed_empty.asc',
    'quine.out',
    'two_literals_first_compressed.asc',
    'two_literals_first_compressed_two_times.asc',
    'two_messages.asc',
    ...readdirSync(v('fuzz')).map((f) => `fuzz/${f}`),
  ];
  it.each(malformedInputs)('%s: a SealpostError, never an exception or a hang', async (name) => {
    const keyring = await keyringOf([{ path: v('draft-bre-openpgp-samples-00/bob.sec.asc') }]);
    const data = read(v(name));
    for (const fn of [decryptOpenPgp, openOpenPgpSigned]) {
      const e = await sealpostError(() => fn(data, context(keyring, null, { password: 'password' })));
      expect(e).toBeInstanceOf(SealpostError);
    }
  });

  it('keys with unknown or opaque algorithms import (the unknown parts are skipped) or fail cleanly', async () => {
    for (const f of readdirSync(v('mock_pq'))) {
      try {
        const entries = await importOpenPgpKeys(read(v(`mock_pq/${f}`)), undefined, false);
        expect(entries[0]!.type).toBe('openpgp-public');
      } catch (e) {
        expect(e).toBeInstanceOf(SealpostError);
      }
    }
    for (const f of [
      'perturbed.pub.asc',
      'autocrypt/alice@autocrypt.example.pub.asc',
      'autocrypt/bob@autocrypt.example.sec.asc',
    ]) {
      const entries = await importOpenPgpKeys(read(v(f)), undefined, false);
      expect(entries.length).toBe(1);
    }
  });

  it('bad_ecdh: keys protected by a passphrase need it', async () => {
    const e = await sealpostError(() =>
      importOpenPgpKeys(read(v('bad_ecdh/gocrypto.key')), undefined, false),
    );
    expect(e.code).toBe('bad-passphrase');
    expect(e.details.passphraseRequired).toBe(true);
  });
});
