/**
 * The relay's crash test: `sealpost serve` as a child process takes a stream of SMTP messages —
 * encrypted ones (diverted) and plain ones (queued to forward) — and is killed with SIGKILL at random
 * moments, then restarted. Every message that got a 250 must be intact after the restart: a diverted
 * one as a stored message with the same bytes, a forwarded one either still queued with the same
 * bytes or delivered to the upstream byte for byte. Nothing half-written survives.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { randomId } from '../../../src/server/secrets.ts';
import { openSqliteStore } from '../../../src/server/store/sqlite.ts';
import { seedSender, spawnServe } from '../../helpers/serve.ts';
import { relayTrace } from '../helpers.ts';
import { createUpstream, idIn, sendWithNodemailer } from './helpers.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function makeMessage(size: number, encrypted: boolean): Buffer {
  const head = Buffer.from(
    `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: crash ${randomId(6)}\r\nMIME-Version: 1.0\r\n` +
      (encrypted
        ? 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n'
        : 'Content-Type: application/octet-stream\r\n') +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const body = randomBytes(Math.max(0, Math.floor(((size - head.length) * 3) / 4)))
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body), Buffer.from('\r\n')]);
}

async function startChild(dir: string, upstreamPort: number) {
  const serve = await spawnServe(
    // prettier-ignore
    ['--data', dir, '--port', '0', '--smtp-port', '0', '--smtp-trusted-networks', '127.0.0.1/32',
      '--smtp-upstream', `smtp://127.0.0.1:${upstreamPort}`, '--smtp-retry-base', '200ms',
      '--log-level', 'warn', '--sender-rate-limit', '1000000'],
    { timeoutMs: 90_000 }, // generous: a start after kill -9 on a loaded 2-core machine
  );
  return { ...serve, port: serve.smtpPort! };
}

async function readAll(s: Readable | null): Promise<Buffer> {
  if (!s) throw new Error('no body');
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('relay crash safety (kill -9 during a stream of SMTP messages)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps every 250-acknowledged message: stored, queued or delivered, byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-relay-crash-'));
    dirs.push(dir);
    const setup = await openSqliteStore({ dataDir: dir });
    await seedSender(setup);
    await setup.close();
    const up = await createUpstream();
    await up.start();

    const diverted = new Map<string, string>(); // message id → sha256 sent
    const queued = new Map<string, string>(); // forward id → sha256 sent
    let attempts = 0;
    for (let round = 0; round < 4; round++) {
      const { child, port, exited } = await startChild(dir, up.port);
      let alive = true;
      const workers = Array.from({ length: 4 }, async () => {
        while (alive) {
          const size = randomInt(3) === 0 ? randomInt(200_000, 2_000_000) : randomInt(500, 20_000);
          const raw = makeMessage(size, randomInt(2) === 0);
          attempts++;
          const r = await sendWithNodemailer({
            port,
            from: 'alice@example.org',
            to: ['bob@example.net'],
            raw,
          });
          if (!r.ok) continue;
          const { kind, id } = idIn(r.response);
          (kind === 'diverted' ? diverted : queued).set(id, sha(raw));
        }
      });
      await new Promise((r) => setTimeout(r, randomInt(500, 1500)));
      child.kill('SIGKILL');
      await exited;
      alive = false;
      await Promise.all(workers);
    }
    // Restart once more (recovery runs; the queue drains to the upstream), then stop cleanly.
    // Wait (bounded) until the upstream has some of the queued forwards: a fixed pause was too short
    // for a start-up on a loaded machine.
    const { child, exited } = await startChild(dir, up.port);
    const queuedDigests = new Set(queued.values());
    const until = Date.now() + 30_000;
    await new Promise((r) => setTimeout(r, 1500));
    while (Date.now() < until && !up.mails.some((m) => queuedDigests.has(sha(m.original))))
      await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    await exited;
    await up.stop();

    expect(diverted.size + queued.size).toBeGreaterThan(5);
    expect(diverted.size).toBeGreaterThan(0);
    expect(queued.size).toBeGreaterThan(0);
    expect(attempts).toBeGreaterThan(diverted.size + queued.size); // some were cut off by a kill
    const delivered = new Set(up.mails.map((m) => sha(m.original)));
    const store = await openSqliteStore({ dataDir: dir });
    try {
      for (const [id, digest] of diverted) {
        const m = await store.submissions.get(id);
        expect(m, `acknowledged message ${id} is missing`).not.toBeNull();
        expect(m!.sha256).toBe(digest);
        expect(sha(await readAll(await store.submissions.openBody(id)))).toBe(digest);
      }
      let stillQueued = 0;
      for (const [id, digest] of queued) {
        const f = await store.forwards.get(id);
        expect(f, `acknowledged forward ${id} is missing`).not.toBeNull();
        if (f!.state === 'queued') {
          stillQueued++;
          // Stored as forwarded: the relay's Received: field, then the message byte for byte.
          const stored = await readAll(await store.forwards.openBody(id));
          expect(f!.sha256).toBe(sha(stored));
          const trace = relayTrace(stored);
          expect(trace, `forward ${id} has its trace field`).not.toBeNull();
          expect(sha(stored.subarray(trace!.length))).toBe(digest);
        } else {
          expect(f!.state).toBe('sent');
          expect(delivered.has(digest), `forward ${id} reached the upstream intact`).toBe(true);
        }
      }
      expect(stillQueued).toBeLessThan(queued.size); // the last run forwarded most of them
      // Nothing half-written: no staged file, and every relay file is a queued forward's.
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      for (const shard of await readdir(join(dir, 'relay')))
        for (const name of await readdir(join(dir, 'relay', shard)))
          expect((await store.forwards.get(name))?.state, `relay/${shard}/${name}`).toBe('queued');
    } finally {
      await store.close();
    }
  }, 180_000);
});
