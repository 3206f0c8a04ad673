/**
 * `valid` only when the signer is the From address (issue 10): a good, trusted signature on a
 * message with no From, a From with only a display name, or another From is `signer-mismatch`, so no
 * consumer (CLI JSON, receiver, receipts) has to check `fromMatches` itself.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openMessage } from '../../src/core/index.ts';
import { corpusCases, keyringFor } from '../helpers/corpus.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';

const withFrom = (eml: Buffer, from: string | null): Uint8Array => {
  const text = eml.toString('latin1');
  const replaced =
    from === null
      ? text.replace(/^From: [^\r\n]*\r?\n/, '')
      : text.replace(/^From: [^\r\n]*/, `From: ${from}`);
  if (replaced === text) throw new Error('no From header to change');
  return new Uint8Array(Buffer.from(replaced, 'latin1'));
};

describe.skipIf(!requireShared('signer binding over the shared corpus'))(
  'the signer is bound to From',
  () => {
    for (const name of ['01-smime-signed-detached', '18-pgpmime-signed']) {
      it(`${name}: valid with From, signer-mismatch without one, with a bare name, or another`, async () => {
        const c = corpusCases(CORPUS).find((x) => x.name === name)!;
        const keyring = await keyringFor(c);
        const eml = readFileSync(c.message);
        const open = async (from: string | null) =>
          (await openMessage(withFrom(eml, from), { keyring })).signature;

        expect(await open('Alice <alice@example.org>')).toMatchObject({ status: 'valid', fromMatches: true });
        for (const from of [null, 'Alice Example', '"Alice" <>']) {
          const s = await open(from);
          expect(s, String(from)).toMatchObject({
            status: 'signer-mismatch',
            fromMatches: false,
            signer: 'alice@example.org',
          });
          expect(s.problems.join(' ')).toMatch(/names no sender address/);
        }
        const other = await open('mallory@example.com');
        expect(other).toMatchObject({ status: 'signer-mismatch', fromMatches: false });
        expect(other.problems.join(' ')).toMatch(
          /not the sender named in the From header \(mallory@example.com\)/,
        );
      });
    }
  },
);
