/**
 * Messages that arrive in pieces: the streaming base64 decoder gives exactly what the whole-buffer
 * one gives, and openMessage reports the same thing for a message read from a stream (decoded as it
 * arrives) as for the same bytes at once — over the whole shared corpus, cut at random places.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Base64StreamDecoder,
  IncomingMessage,
  SealpostError,
  base64Decode,
  openMessage,
  type OpenedMessage,
} from '../../src/core/index.ts';
import { corpusCases, keyringFor } from '../helpers/corpus.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function cut(bytes: Uint8Array, seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = seed || 1;
  for (let i = 0; i < bytes.length;) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = 1 + (x % 3000);
    out.push(bytes.slice(i, i + n));
    i += n;
  }
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

function summary(r: OpenedMessage | { error: string }): unknown {
  if ('error' in r) return r;
  return {
    protocol: r.protocol,
    encrypted: r.encrypted,
    signature: r.signature.status,
    signer: r.signature.signer,
    from: r.from,
    subject: r.subject,
    text: r.text,
    attachments: r.attachments.map((a) => [a.filename, a.size, a.sha256]),
  };
}

describe('Base64StreamDecoder', () => {
  it('decodes any input cut anywhere exactly like base64Decode(…, lenient)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t$'.split('');
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(fc.constantFrom(...alphabet), { maxLength: 400 })
            .map((a) => new TextEncoder().encode(a.join(''))),
          fc
            .uint8Array({ maxLength: 300 })
            .map((b) =>
              new TextEncoder().encode(Buffer.from(b).toString('base64').replace(/.{76}/g, '$&\r\n')),
            ),
        ),
        fc.array(fc.nat(400), { maxLength: 6 }),
        (input, cuts) => {
          const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
          const d = new Base64StreamDecoder(10);
          let from = 0;
          for (const p of [...points, input.length]) {
            d.push(input.subarray(from, p));
            from = p;
          }
          expect(hex(d.result())).toBe(hex(base64Decode(input, true)));
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe.skipIf(!requireShared('incoming messages over the corpus'))('openMessage on a stream', () => {
  it('decodes an S/MIME body as it arrives and keeps only the decoded object', () => {
    const bytes = readFileSync(`${CORPUS}/messages/03-smime-enveloped-rsa15-aes256cbc.eml`);
    const incoming = new IncomingMessage({ expectedSize: bytes.length });
    for (const c of cut(new Uint8Array(bytes), 7)) incoming.push(c);
    const prepared = incoming.end();
    expect(prepared.decodedBody).not.toBeNull();
    expect(prepared.decodedBody![0]).toBe(0x30); // a DER SEQUENCE
    expect(prepared.head.length).toBeLessThan(1000);
    const pgp = new IncomingMessage();
    pgp.push(new Uint8Array(readFileSync(`${CORPUS}/messages/16-pgpmime-encrypted-combined-signature.eml`)));
    expect(pgp.end().decodedBody).toBeNull();
  });

  for (const c of corpusCases(CORPUS)) {
    it(`${c.name}: the same report from a stream cut at random places as from the whole bytes`, async () => {
      const bytes = new Uint8Array(readFileSync(c.message));
      const options = async () => ({
        keyring: await keyringFor(c),
        ...(c.expected.password !== undefined ? { password: c.expected.password } : {}),
      });
      const run = async (input: Uint8Array | ReadableStream<Uint8Array>) => {
        try {
          return summary(await openMessage(input, await options()));
        } catch (e) {
          if (e instanceof SealpostError) return { error: e.code };
          throw e;
        }
      };
      const whole = await run(bytes);
      expect(await run(streamOf(cut(bytes, bytes.length)))).toEqual(whole);
    });
  }
});
