/**
 * A detached S/MIME signature part that is garbage (issue 10): an invalid signature, the content
 * withheld — not "cut off on its way" (truncated) — and no library words in the problems.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring, openMessage } from '../../../src/core/index.ts';
import { CORPUS, requireShared } from '../../helpers/paths.ts';
import { corpusCases, keyringFor } from '../../helpers/corpus.ts';

describe.skipIf(!requireShared('garbage S/MIME signatures over the shared corpus'))(
  'garbage signatures',
  () => {
    const eml = (): string =>
      readFileSync(join(CORPUS, 'messages', '01-smime-signed-detached.eml'), 'latin1');

    it('a garbage signature part is an invalid signature, its content withheld', async () => {
      const text = eml();
      const boundary = /boundary="([^"]+)"/.exec(text)![1]!;
      const head = text.slice(0, text.lastIndexOf('Content-Type: application/'));
      for (const b64 of [
        'R2FyYmFnZSBnYXJiYWdlIGdhcmJhZ2UgZ2FyYmFnZQ==',
        `MIIB${'A'.repeat(40)}`,
        'MAMCAQE=',
      ]) {
        const bad = `${head}Content-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n\r\n--${boundary}--\r\n`;
        const r = await openMessage(new Uint8Array(Buffer.from(bad, 'latin1')), {
          keyring: new MemoryKeyring(),
        });
        expect(r.signature.status, b64).toBe('invalid');
        expect(r.text).toBe('');
        expect(r.attachments).toEqual([]);
        expect(r.signature.problems.join(' ')).toMatch(/signature part cannot be read/);
      }
    });

    it('an untrusted signer is told in our words, not PKI.js’s', async () => {
      const c = corpusCases(CORPUS).find((x) => x.name === '11-smime-signed-untrusted')!;
      const r = await openMessage(new Uint8Array(readFileSync(c.message)), { keyring: await keyringFor(c) });
      expect(r.signature.status).toBe('untrusted');
      expect(r.signature.problems.join(' ')).not.toMatch(/No valid certificate paths/);
      expect(r.signature.problems.join(' ')).toMatch(/does not chain to a trusted certificate authority/);
    });
  },
);
