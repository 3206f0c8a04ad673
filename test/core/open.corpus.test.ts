import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SealpostError, openMessage } from '../../src/core/index.ts';
import { compare, corpusCases, keyringFor, type CorpusCase, type Observed } from '../helpers/corpus.ts';
import { CORPUS, FIXTURES, requireFixtures, requireShared } from '../helpers/paths.ts';

async function observe(c: CorpusCase): Promise<Observed | { error: string }> {
  const keyring = await keyringFor(c);
  try {
    const r = await openMessage(new Uint8Array(readFileSync(c.message)), {
      keyring,
      ...(c.expected.password !== undefined ? { password: c.expected.password } : {}),
    });
    return {
      protocol: r.protocol,
      encrypted: r.encrypted,
      signature: r.signature.status,
      signer: r.signature.signer,
      fromMatches: r.signature.fromMatches,
      text: r.text,
      attachments: r.attachments.map((a) => ({ filename: a.filename, size: a.size, sha256: a.sha256 })),
    };
  } catch (e) {
    if (!(e instanceof SealpostError)) throw e;
    return { error: e.code };
  }
}

describe.skipIf(!requireShared('the shared interop corpus'))('openMessage: ../shared/corpus', () => {
  const cases = corpusCases(CORPUS);
  it('has the corpus', () => expect(cases.length).toBeGreaterThanOrEqual(23));
  for (const c of cases) {
    it(c.name, async () => {
      expect(compare(c.expected, await observe(c))).toEqual([]);
    });
  }
});

describe.skipIf(!requireFixtures('the generated fixtures'))('openMessage: test/fixtures/generated', () => {
  for (const c of corpusCases(FIXTURES)) {
    it(c.name, async () => {
      expect(compare(c.expected, await observe(c))).toEqual([]);
    });
  }
});
