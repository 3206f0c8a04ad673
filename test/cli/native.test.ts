/**
 * The CLI hands core Node's base64 decoder for large transfer-encoded bodies: it must decode exactly
 * as core's own lenient decoder does, whatever the input.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { base64Decode, useHostBase64Decoder } from '../../src/core/index.ts';
import { nodeBase64Decode } from '../../src/cli/native.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('Node base64 as core’s host decoder', () => {
  afterEach(() => useHostBase64Decoder(null));

  it('agrees with core’s lenient decoder on arbitrary bytes and on base64 with damage', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t-_$.'.split('');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .array(fc.constantFrom(...alphabet), { maxLength: 300 })
            .map((a) => new TextEncoder().encode(a.join(''))),
          fc
            .uint8Array({ maxLength: 200 })
            .map((b) =>
              new TextEncoder().encode(Buffer.from(b).toString('base64').replace(/.{76}/g, '$&\r\n')),
            ),
        ),
        (input) => {
          expect(hex(nodeBase64Decode(input))).toBe(hex(base64Decode(input, true)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is used for large lenient bodies only, with the same result', () => {
    const data = new Uint8Array(Buffer.alloc(200_000, 7));
    const b64 = new TextEncoder().encode(Buffer.from(data).toString('base64').replace(/.{76}/g, '$&\r\n'));
    let calls = 0;
    useHostBase64Decoder((a) => {
      calls++;
      return nodeBase64Decode(a);
    });
    expect(hex(base64Decode(b64, true))).toBe(hex(data));
    expect(calls).toBe(1);
    base64Decode(b64.subarray(0, 1000), true); // small: core's own
    expect(() => base64Decode(new TextEncoder().encode('#'.repeat(70_000)), false)).toThrow(); // strict: core's own
    expect(calls).toBe(1);
  });
});
