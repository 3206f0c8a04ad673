/**
 * The crash test: `sealpost serve` as a child process takes a stream of submissions and is killed
 * with SIGKILL at random moments, then restarted. Every message that got a 201 must be intact (the
 * same bytes) and nothing half-written may be visible: every committed message has its complete
 * file, and no file without a committed message survives the restart.
 */
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { crashMessage, postMessage, readAll } from '../helpers/crash-trials.ts';
import { seedSender, spawnServe } from '../helpers/serve.ts';
import { storedFiles } from './helpers.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const startChild = (dir: string) =>
  spawnServe(
    // prettier-ignore
    ['--data', dir, '--port', '0', '--smtp-port', 'off', '--log-level', 'warn',
      '--rate-limit', '1000000', '--sender-rate-limit', '1000000'],
    { timeoutMs: 90_000 }, // generous: a start after kill -9 on a loaded 2-core machine
  );

describe('crash safety (kill -9 during submissions)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps every acknowledged message intact and nothing half-written visible', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-crash-'));
    dirs.push(dir);
    const setup = await openSqliteStore({ dataDir: dir });
    const apiKey = await seedSender(setup);
    await setup.close();

    const acknowledged = new Map<string, string>(); // message id → sha256 of what was sent
    let attempts = 0;
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const { child, url, exited } = await startChild(dir);
      let alive = true;
      const workers = Array.from({ length: 4 }, async () => {
        while (alive) {
          const size = randomInt(2) === 0 ? randomInt(500, 20_000) : randomInt(200_000, 3_000_000);
          const body = crashMessage(size);
          attempts++;
          const id = await postMessage(url, apiKey, body);
          if (id) acknowledged.set(id, sha(body));
        }
      });
      await new Promise((r) => setTimeout(r, randomInt(400, 1500)));
      child.kill('SIGKILL');
      await exited;
      alive = false;
      await Promise.all(workers);
    }

    // Restart once more (recovery runs), then stop it cleanly and check the store.
    const { child, exited } = await startChild(dir);
    child.kill('SIGTERM');
    await exited;

    expect(acknowledged.size).toBeGreaterThan(5);
    expect(attempts).toBeGreaterThan(acknowledged.size); // some were cut off by a kill
    const store = await openSqliteStore({ dataDir: dir });
    try {
      for (const [id, digest] of acknowledged) {
        const m = await store.submissions.get(id);
        expect(m, `acknowledged message ${id} is missing`).not.toBeNull();
        expect(m!.sha256).toBe(digest);
        expect(sha(await readAll(await store.submissions.openBody(id)))).toBe(digest);
      }
      // Nothing half-written is visible: every file belongs to a committed message and is complete.
      const files = await storedFiles(dir);
      expect(files.tmp).toEqual([]);
      for (const f of files.messages) {
        const id = f.split('/')[1]!;
        const m = await store.submissions.get(id);
        expect(m, `file ${f} has no committed message`).not.toBeNull();
        expect(sha(await readAll(await store.submissions.openBody(id)))).toBe(m!.sha256);
      }
    } finally {
      await store.close();
    }
  }, 120_000);
});
