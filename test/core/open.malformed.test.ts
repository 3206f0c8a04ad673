/**
 * Whatever the input, openMessage either opens it or throws a SealpostError with one of the stable
 * codes — never another exception, never a hang. Truncations and byte flips of real messages.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SealpostError, openMessage, resolveLimits } from '../../src/core/index.ts';
import { corpusCases, keyringFor } from '../helpers/corpus.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';

async function outcome(
  bytes: Uint8Array,
  keyring: Awaited<ReturnType<typeof keyringFor>>,
  password?: string,
): Promise<string> {
  try {
    await openMessage(bytes, { keyring, ...(password ? { password } : {}), limits: resolveLimits({}) });
    return 'opened';
  } catch (e) {
    if (!(e instanceof SealpostError)) throw e;
    expect(ERROR_CODES).toContain(e.code);
    expect(e.message.length).toBeGreaterThan(10);
    return e.code;
  }
}

describe('openMessage with arbitrary bytes', () => {
  it('never throws anything but SealpostError on random input', async () => {
    const { MemoryKeyring } = await import('../../src/core/index.ts');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        await outcome(bytes, new MemoryKeyring() as never);
      }),
      { numRuns: 200 },
    );
  });
});

describe.skipIf(!requireShared('malformed-input tests over the corpus'))(
  'openMessage with damaged corpus messages',
  () => {
    const cases = corpusCases(CORPUS).filter((c) => !c.expected.error);
    // One message of each kind, to keep the run short; each gets many damaged variants.
    const picked = ['03-', '06-', '08-', '09-', '01-', '15-', '16-', '18-', '21-'].map((p) =>
      cases.find((c) => c.name.startsWith(p))!,
    );
    expect(readdirSync(join(CORPUS, 'messages')).length).toBeGreaterThan(0);

    for (const c of picked) {
      it(`${c.name}: truncations and byte flips give a result or a coded error`, async () => {
        const keyring = await keyringFor(c);
        const original = new Uint8Array(readFileSync(c.message));
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.record({ cut: fc.integer({ min: 0, max: original.length - 1 }) }),
              fc.record({
                flips: fc.array(
                  fc.record({
                    at: fc.integer({ min: 0, max: original.length - 1 }),
                    xor: fc.integer({ min: 1, max: 255 }),
                  }),
                  {
                    minLength: 1,
                    maxLength: 4,
                  },
                ),
              }),
            ),
            async (damage) => {
              let bytes: Uint8Array;
              if ('cut' in damage) bytes = original.subarray(0, damage.cut);
              else {
                bytes = original.slice();
                for (const f of damage.flips) bytes[f.at] = bytes[f.at]! ^ f.xor;
              }
              await outcome(bytes, keyring, c.expected.password);
            },
          ),
          { numRuns: 40 },
        );
      });
    }
  },
);
