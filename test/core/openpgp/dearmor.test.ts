/**
 * Our dearmoring of OpenPGP messages gives exactly the bytes OpenPGP.js's own unarmor gives, for
 * gpg-made messages with and without armor headers, LF or CRLF; a missing END line is `truncated`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { SealpostError } from '../../../src/core/index.ts';
import { dearmorMessage } from '../../../src/core/openpgp/lib.ts';
import { CORPUS, requireShared } from '../../helpers/paths.ts';

const shared = requireShared('dearmoring gpg-made messages');

/** The armored OpenPGP messages inside the corpus's messages. */
function armoredMessages(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(join(CORPUS, 'messages'))) {
    const text = readFileSync(join(CORPUS, 'messages', f), 'latin1');
    for (const m of text.matchAll(/-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/g))
      out.push(m[0]);
  }
  return out;
}

describe.skipIf(!shared)('dearmorMessage', () => {
  it('matches OpenPGP.js’s unarmor on every armored message of the corpus, LF and CRLF, with headers', async () => {
    const messages = armoredMessages();
    expect(messages.length).toBeGreaterThan(4);
    for (const armored of messages) {
      const lf = armored.replace(/\r\n/g, '\n');
      const variants = [
        lf,
        lf.replace(/\n/g, '\r\n'),
        lf.replace(
          '-----BEGIN PGP MESSAGE-----\n',
          '-----BEGIN PGP MESSAGE-----\nComment: a comment\nVersion: x 1\n',
        ),
        `\ufeff\n  ${lf}\n`,
      ];
      const want = Buffer.from((await openpgp.unarmor(lf)).data as Uint8Array).toString('hex');
      for (const v of variants) {
        const got = dearmorMessage(new TextEncoder().encode(v), 'test');
        expect(got && Buffer.from(got).toString('hex')).toBe(want);
      }
    }
  });

  it('is null for other armor and binary input; truncated without END', () => {
    expect(
      dearmorMessage(
        new TextEncoder().encode('-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n'),
        't',
      ),
    ).toBeNull();
    expect(dearmorMessage(new Uint8Array([0x85, 1, 2]), 't')).toBeNull();
    const cut = armoredMessages()[0]!.replace(/-----END PGP MESSAGE-----/, '');
    try {
      dearmorMessage(new TextEncoder().encode(cut), 't');
      throw new Error('expected truncated');
    } catch (e) {
      expect(e).toBeInstanceOf(SealpostError);
      expect((e as SealpostError).code).toBe('truncated');
    }
  });
});
