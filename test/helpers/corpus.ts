/**
 * Runs a folder of messages with expected results (the format of ../shared/corpus/expected) through
 * a reader and compares. Shared by the core test (openMessage), the CLI test (sealpost open --json)
 * and, later, the browser tests.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryKeyring, importKeyFile } from '../../src/core/index.ts';

export interface Expected {
  keys: string[];
  passphrase?: string;
  password?: string;
  trust: string[];
  error?: string;
  protocol?: string;
  encrypted?: boolean;
  signature?: string;
  signer?: string | null;
  fromMatches?: boolean;
  textContains?: string | null;
  attachments?: { filename: string; size: number; sha256: string }[];
}

export interface CorpusCase {
  name: string;
  message: string; // path of the .eml
  keysDir: string;
  expected: Expected;
}

/** Lists the cases of a corpus folder (messages/, expected/, keys/). */
export function corpusCases(dir: string): CorpusCase[] {
  const expectedDir = join(dir, 'expected');
  if (!existsSync(expectedDir)) return [];
  return readdirSync(expectedDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -5);
      return {
        name,
        message: join(dir, 'messages', `${name}.eml`),
        keysDir: join(dir, 'keys'),
        expected: JSON.parse(readFileSync(join(expectedDir, f), 'utf8')) as Expected,
      };
    });
}

/** Builds the keyring a case asks for: its keys (unlocked with the passphrase) and its trust. */
export async function keyringFor(c: CorpusCase): Promise<MemoryKeyring> {
  const keyring = new MemoryKeyring();
  for (const k of c.expected.keys) {
    const opts = c.expected.passphrase !== undefined ? { passphrase: c.expected.passphrase } : {};
    keyring.addAll(await importKeyFile(new Uint8Array(readFileSync(join(c.keysDir, k))), opts));
  }
  for (const t of c.expected.trust) {
    keyring.addAll(await importKeyFile(new Uint8Array(readFileSync(join(c.keysDir, t))), { trusted: true }));
  }
  return keyring;
}

/** The report's fields in the shape of an expected file, for one readable comparison. */
export interface Observed {
  protocol: string;
  encrypted: boolean;
  signature: string;
  signer: string | null;
  fromMatches: boolean | null;
  text: string;
  attachments: { filename: string; size: number; sha256: string }[];
}

/** Compares; returns a list of differences (empty when the case passes). */
export function compare(expected: Expected, observed: Observed | { error: string }): string[] {
  const diffs: string[] = [];
  if ('error' in observed) {
    if (!expected.error) return [`unexpected error ${observed.error}`];
    if (!expected.error.split('|').includes(observed.error))
      diffs.push(`error ${observed.error}, expected ${expected.error}`);
    return diffs;
  }
  if (expected.error) return [`expected error ${expected.error}, but it opened`];
  const eq = (field: string, got: unknown, want: unknown): void => {
    if (want !== undefined && got !== want)
      diffs.push(`${field}: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  eq('protocol', observed.protocol, expected.protocol);
  eq('encrypted', observed.encrypted, expected.encrypted);
  // The shared corpus predates the `signer-mismatch` status (issue 10): there a good, trusted
  // signature whose signer is not the From address is `valid` with `fromMatches: false`.
  const wantSignature =
    expected.signature === 'valid' && expected.fromMatches === false ? 'signer-mismatch' : expected.signature;
  eq('signature', observed.signature, wantSignature);
  if (expected.signer !== undefined && expected.signer !== null)
    eq('signer', observed.signer, expected.signer);
  if (expected.fromMatches !== undefined) eq('fromMatches', observed.fromMatches, expected.fromMatches);
  if (expected.textContains) {
    if (!observed.text.includes(expected.textContains))
      diffs.push(`text does not contain ${expected.textContains}`);
  }
  if (expected.signature === 'invalid') {
    if (observed.text !== '' || observed.attachments.length > 0)
      diffs.push('content shown under an invalid signature');
  }
  if (expected.attachments) {
    const key = (a: { filename: string; size: number; sha256: string }): string =>
      `${a.filename}:${a.size}:${a.sha256}`;
    const got = observed.attachments.map(key).sort();
    const want = expected.attachments.map(key).sort();
    if (JSON.stringify(got) !== JSON.stringify(want))
      diffs.push(`attachments: got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  return diffs;
}
