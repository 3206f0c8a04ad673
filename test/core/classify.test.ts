/**
 * The server's classifier and the peel loop read one shape table (core/shape.ts): what the server
 * accepts as secure (its default "secure mail only" policy) is opened as a secure layer, and
 * `signed: true` is said only of a message whose outer layer the opener verifies as a signature.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring, SealpostError, classifyMessage, openMessage } from '../../src/core/index.ts';
import type { OpenedMessage } from '../../src/core/report.ts';
import { corpusCases, keyringFor } from '../helpers/corpus.ts';
import { CORPUS, FIXTURES, requireFixtures, requireShared } from '../helpers/paths.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const msg = (headers: string[], body: string[]): Uint8Array =>
  enc(
    [...['From: alice@example.org', 'To: bob@example.net', 'Subject: t'], ...headers, '', ...body].join(
      '\r\n',
    ),
  );

const ARMOR = ['-----BEGIN PGP MESSAGE-----', '', 'hQEMA1234', '=abcd', '-----END PGP MESSAGE-----'];
const SIGNED_ARMOR = [
  '-----BEGIN PGP SIGNED MESSAGE-----',
  'Hash: SHA256',
  '',
  'hello',
  '-----BEGIN PGP SIGNATURE-----',
  '',
  'iQEzBAEBCAAdFiEE',
  '-----END PGP SIGNATURE-----',
];

/** What the peel loop made of it: a report, or the code it refused with. */
async function open(bytes: Uint8Array, keyring = new MemoryKeyring()): Promise<OpenedMessage | string> {
  try {
    return await openMessage(bytes, { keyring });
  } catch (e) {
    if (e instanceof SealpostError) return e.code;
    throw e;
  }
}

/**
 * The agreement: plain to the classifier ⇔ the opener reads it as plain content (no layer); secure
 * ⇔ the opener enters a secure layer (a report with layers, or a refusal from inside the layer: no
 * key, malformed ciphertext); `signed` ⇒ that first layer is a signature.
 */
async function expectAgreement(label: string, bytes: Uint8Array, keyring?: MemoryKeyring): Promise<void> {
  const c = classifyMessage(bytes);
  const opened = await open(bytes, keyring);
  if (c.protocol === 'plain') {
    expect(typeof opened, `${label}: plain to the server, refused by the opener (${String(opened)})`).toBe(
      'object',
    );
    const r = opened as OpenedMessage;
    expect([r.protocol, r.layers.length], `${label}: plain to the server`).toEqual(['plain', 0]);
    return;
  }
  if (typeof opened === 'string') return; // refused inside the secure layer it was classified as
  expect(opened.protocol, `${label}: ${c.reason}`).toBe(c.protocol);
  expect(opened.layers.length, `${label}: secure to the server, opened with no layer`).toBeGreaterThan(0);
  if (c.signed) expect(opened.layers[0]!.kind, `${label}: signed: true`).toBe('signed');
}

describe('one shape table for the classifier and the opener', () => {
  const cases: [string, Uint8Array, { protocol: string; encrypted?: boolean; signed?: boolean }][] = [
    [
      'a plain text file named x.pgp',
      msg(
        ['Content-Type: text/plain; name=x.pgp', 'Content-Disposition: attachment; filename=x.pgp'],
        ['hello'],
      ),
      { protocol: 'plain' },
    ],
    [
      'armor after a greeting line',
      msg(['Content-Type: text/plain'], ['Hi Bob, here it is:', '', ...ARMOR]),
      { protocol: 'plain' },
    ],
    [
      'cleartext-signed armor after a greeting line',
      msg(['Content-Type: text/plain'], ['Hi Bob,', ...SIGNED_ARMOR]),
      { protocol: 'plain' },
    ],
    [
      'a multipart/encrypted nested in a multipart/mixed',
      msg(
        ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=outer'],
        [
          '--outer',
          'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=inner',
          '',
          '--inner',
          'Content-Type: application/pgp-encrypted',
          '',
          'Version: 1',
          '--inner',
          'Content-Type: application/octet-stream',
          '',
          ...ARMOR,
          '--inner--',
          '--outer--',
        ],
      ),
      { protocol: 'plain' },
    ],
    [
      'armor in the first text part of a multipart/alternative',
      msg(
        ['Content-Type: multipart/alternative; boundary=a'],
        [
          '--a',
          'Content-Type: text/plain',
          '',
          ...ARMOR,
          '--a',
          'Content-Type: text/html',
          '',
          '<p>x</p>',
          '--a--',
        ],
      ),
      { protocol: 'plain' },
    ],
    ['armor in a text/html body', msg(['Content-Type: text/html'], ARMOR), { protocol: 'plain' }],
    [
      'armor starting the text body (after blank lines)',
      msg(['Content-Type: text/plain'], ['', '  ', ...ARMOR]),
      { protocol: 'openpgp-inline', encrypted: true, signed: false },
    ],
    [
      'armor in a base64 text body',
      msg(
        ['Content-Type: text/plain', 'Content-Transfer-Encoding: base64'],
        [Buffer.from(ARMOR.join('\r\n')).toString('base64')],
      ),
      { protocol: 'openpgp-inline', encrypted: true, signed: false },
    ],
    [
      'cleartext-signed text',
      msg([], SIGNED_ARMOR),
      { protocol: 'openpgp-inline', encrypted: false, signed: true },
    ],
    [
      'an OpenPGP file (application/octet-stream; name=x.pgp)',
      msg(
        ['Content-Type: application/octet-stream; name=x.pgp', 'Content-Transfer-Encoding: base64'],
        ['hQEMA1234'],
      ),
      { protocol: 'openpgp-inline', encrypted: true, signed: false },
    ],
    [
      'PGP/MIME encrypted',
      msg(
        ['Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=inner'],
        [
          '--inner',
          'Content-Type: application/pgp-encrypted',
          '',
          'Version: 1',
          '--inner',
          'Content-Type: application/octet-stream',
          '',
          ...ARMOR,
          '--inner--',
        ],
      ),
      { protocol: 'pgp-mime', encrypted: true, signed: false },
    ],
    [
      'S/MIME enveloped',
      msg(
        [
          'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m',
          'Content-Transfer-Encoding: base64',
        ],
        ['MIAGCSqGSIb3DQEHA6CAMIACAQAx'],
      ),
      { protocol: 'smime', encrypted: true, signed: false },
    ],
  ];

  for (const [label, bytes, want] of cases) {
    it(label, async () => {
      const c = classifyMessage(bytes);
      expect({ protocol: c.protocol, encrypted: c.encrypted, signed: c.signed }, c.reason).toEqual({
        encrypted: false,
        signed: false,
        ...want,
      });
      await expectAgreement(label, bytes);
    });
  }
});

describe.skipIf(!requireShared('classifier agreement over the corpus'))(
  'agreement over ../shared/corpus',
  () => {
    it('every corpus message is classified as the opener reads it', async () => {
      for (const c of corpusCases(CORPUS))
        await expectAgreement(c.name, new Uint8Array(readFileSync(c.message)), await keyringFor(c));
    });
  },
);

describe.skipIf(!requireFixtures('classifier agreement over the generated fixtures'))(
  'agreement over test/fixtures/generated',
  () => {
    it('every fixture message is classified as the opener reads it', async () => {
      for (const c of corpusCases(FIXTURES))
        await expectAgreement(c.name, new Uint8Array(readFileSync(c.message)), await keyringFor(c));
    });
  },
);
