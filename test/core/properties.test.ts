/**
 * Property tests (fast-check) for the seams where untrusted bytes are parsed: the BER walker, the
 * classifier, the MIME splitter and structure walk, the base64 and quoted-printable decoders (one
 * shot and streamed through IncomingMessage), and the SMTP relay's chunk reader. Each checks: never
 * throws anything but a coded SealpostError, never hangs (each run is timed), never exceeds its
 * limit. Bounded runs keep the file to a few seconds.
 */
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Decode } from '../../src/core/bytes.ts';
import { SealpostError, classifyMessage, resolveLimits } from '../../src/core/index.ts';
import { IncomingMessage } from '../../src/core/incoming.ts';
import {
  checkStructure,
  decodeQuotedPrintable,
  parseEntity,
  splitMultipart,
} from '../../src/core/mime/entity.ts';
import { children, readTlv } from '../../src/core/smime/ber.ts';
import { cmsKind } from '../../src/core/smime/index.ts';
import { ChunkReader } from '../../src/server/relay/reader.ts';

const RUNS = { numRuns: 300, seed: Number(process.env.FC_SEED ?? 0x5ea1) } as const;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs `f`; it may only throw a SealpostError with a code, and must finish in `ms`. */
function coded<T>(f: () => T, ms = 1000): T | SealpostError {
  const t0 = performance.now();
  try {
    return f();
  } catch (e) {
    if (!(e instanceof SealpostError) || !e.code) throw e;
    return e;
  } finally {
    expect(performance.now() - t0, 'one run took too long').toBeLessThan(ms);
  }
}

/** Bytes that look like DER: random TLVs, nested, with lengths that may lie. */
const derish = fc.letrec<{ tlv: Uint8Array }>((tie) => ({
  tlv: fc.oneof(
    { depthSize: 'small' },
    fc.uint8Array({ maxLength: 64 }),
    fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.array(tie('tlv'), { maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
        fc.boolean(),
      )
      .map(([tag, kids, lie, indefinite]) => {
        const body = Uint8Array.from(kids.flatMap((k) => [...k]));
        if (indefinite) return Uint8Array.from([tag | 0x20, 0x80, ...body, 0, 0]);
        const len = Math.max(0, body.length + lie);
        const lenBytes = len < 128 ? [len] : [0x82, len >> 8, len & 255];
        return Uint8Array.from([tag, ...lenBytes, ...body]);
      }),
  ),
}));

/** Text that looks like MIME: header lines, boundaries (some unclosed), nested parts. */
const mimeish = fc
  .tuple(
    fc.constantFrom('mixed', 'signed', 'alternative', 'encrypted'),
    fc.array(
      fc.oneof(
        fc.constantFrom(
          '--b',
          '--b--',
          '--c',
          'Content-Type: multipart/mixed; boundary=c',
          'Content-Type: text/plain',
          'Content-Type: message/rfc822',
          'Content-Transfer-Encoding: base64',
          'Content-Transfer-Encoding: quoted-printable',
          '',
          '-----BEGIN PGP MESSAGE-----',
          'QUJD=3D=',
        ),
        fc.string({ maxLength: 30 }),
      ),
      { maxLength: 60 },
    ),
    fc.constantFrom('\r\n', '\n'),
  )
  .map(([sub, lines, nl]) => enc([`Content-Type: multipart/${sub}; boundary=b`, '', ...lines].join(nl)));

describe('property: the BER walker', () => {
  it('reads any bytes to a TLV tree or a coded error, within bounds', () => {
    fc.assert(
      fc.property(fc.oneof(derish.tlv, fc.uint8Array({ maxLength: 256 })), (bytes) => {
        coded(() => {
          const top = readTlv(bytes, 0);
          expect(top.end).toBeLessThanOrEqual(bytes.length);
          expect(top.contentStart).toBeGreaterThanOrEqual(0);
          if (top.constructed)
            for (const c of children(bytes, top)) expect(c.end).toBeLessThanOrEqual(top.end);
          return top;
        });
        coded(() => cmsKind(bytes));
      }),
      RUNS,
    );
  });
});

describe('property: the classifier', () => {
  it('never throws, and says plain or a known protocol', () => {
    fc.assert(
      fc.property(fc.oneof(mimeish, fc.uint8Array({ maxLength: 512 })), (bytes) => {
        const c = coded(() => classifyMessage(bytes));
        expect(c).not.toBeInstanceOf(SealpostError);
        if (!(c instanceof SealpostError))
          expect(['plain', 'smime', 'pgp-mime', 'openpgp-inline']).toContain(c.protocol);
      }),
      RUNS,
    );
  });
});

describe('property: the MIME splitter and structure walk', () => {
  it('split parts lie inside the body; the walk keeps its part and depth limits', () => {
    const limits = resolveLimits({ maxParts: 12, maxMimeDepth: 4, maxHeaderBytes: 2048 });
    fc.assert(
      fc.property(mimeish, (bytes) => {
        const split = coded(() => splitMultipart(parseEntity(bytes, limits), limits));
        if (!(split instanceof SealpostError))
          for (const p of split.parts) expect(p.length).toBeLessThanOrEqual(bytes.length);
        const s = coded(() => checkStructure(bytes, limits));
        if (!(s instanceof SealpostError)) {
          expect(s.parts).toBeLessThanOrEqual(limits.maxParts);
          expect(s.depth).toBeLessThanOrEqual(limits.maxMimeDepth);
        }
      }),
      RUNS,
    );
  });
});

describe('property: base64 and quoted-printable decoders', () => {
  it('quoted-printable never throws and never grows; base64 is lenient or coded, never larger than 3/4', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .string({ unit: fc.constantFrom('=', 'A', '3', 'D', '\r', '\n', ' ', '\t', 'z'), maxLength: 200 })
            .map(enc),
        ),
        (bytes) => {
          const qp = coded(() => decodeQuotedPrintable(bytes));
          expect(qp).not.toBeInstanceOf(SealpostError);
          expect((qp as Uint8Array).length).toBeLessThanOrEqual(bytes.length);
          const lenient = coded(() => base64Decode(bytes, true));
          expect(lenient).not.toBeInstanceOf(SealpostError);
          expect((lenient as Uint8Array).length).toBeLessThanOrEqual(Math.ceil((bytes.length * 3) / 4));
          const strict = coded(() => base64Decode(bytes));
          if (!(strict instanceof SealpostError)) expect(strict.length).toBeLessThanOrEqual(bytes.length);
        },
      ),
      RUNS,
    );
  });

  it('base64 round-trips whatever the line breaks, and streamed decoding equals one-shot decoding', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }),
        (data, width, cuts) => {
          const b64 = Buffer.from(data).toString('base64');
          const lines = b64.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
          const body = lines.join('\r\n');
          expect([...base64Decode(enc(body), true)]).toEqual([...data]);
          // The same as an S/MIME message arriving in pieces (IncomingMessage decodes while it arrives).
          const msg = enc(
            'Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n' +
              `Content-Transfer-Encoding: base64\r\n\r\n${body}\r\n`,
          );
          const incoming = new IncomingMessage({});
          let at = 0;
          for (let i = 0; at < msg.length; i++) {
            const n = cuts[i % cuts.length]!;
            incoming.push(msg.subarray(at, at + n));
            at += n;
          }
          const prepared = coded(() => incoming.end());
          if (!(prepared instanceof SealpostError) && prepared.decodedBody)
            expect([...prepared.decodedBody]).toEqual([...data]);
        },
      ),
      { ...RUNS, numRuns: 150 },
    );
  });
});

describe('property: the SMTP chunk reader', () => {
  it('hands over every byte in order, ends once, and drains without hanging', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        async (chunks, highWater, readFirst, fail) => {
          const stream = new PassThrough();
          const reader = new ChunkReader(stream, highWater);
          const writing = (async () => {
            for (const c of chunks) {
              if (!stream.write(Buffer.from(c))) await new Promise((r) => stream.once('drain', r));
            }
            if (fail) stream.destroy(new Error('connection reset'));
            else stream.end();
          })();
          const got: number[] = [];
          const deadline = setTimeout(() => reader.fail(new Error('hung')), 2000);
          try {
            for (let i = 0; i < readFirst; i++) {
              const c = await reader.next();
              if (c === null) break;
              got.push(...c);
            }
            await reader.drain();
            await writing;
          } catch (e) {
            expect((e as Error).message).not.toBe('hung');
            expect(fail).toBe(true);
          } finally {
            clearTimeout(deadline);
          }
          const all = chunks.flatMap((c) => [...c]);
          expect(got).toEqual(all.slice(0, got.length)); // in order, nothing invented
          if (!fail) expect(reader.done).toBe(true);
        },
      ),
      { ...RUNS, numRuns: 120 },
    );
  });
});
