/**
 * A full disk, for real: the data folder is a small tmpfs mount (the tests run as root). The
 * writer must notice short writes (writev() writes what fits and Node reports ENOSPC only on the
 * next call), answer 507 / SMTP 452 4.3.1 with nothing left on disk, report not-ready under the
 * --min-free-space reserve, and take messages again once space is freed. Recipients still open a
 * message whose "opened" state cannot be recorded. Not as root the file is skipped LOUDLY; as root
 * a failing mount fails it.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { outbox, linkIn, sleep, startTestServer, storedFiles, submit, type TestServer } from './helpers.ts';
import { sendWithNodemailer } from './relay/helpers.ts';
import { requireRoot } from '../helpers/paths.ts';

const mnt = await mkdtemp(join(tmpdir(), 'sealpost-fulldisk-'));
const mounted = requireRoot(`full-disk tests (a small tmpfs at ${mnt})`, () => {
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'tmpfs', mnt], {
    encoding: 'utf8',
  });
  return mount.status === 0
    ? null
    : `cannot mount a tmpfs (${(mount.stderr || mount.error?.message || `exit ${mount.status}`).trim()})`;
});

afterAll(async () => {
  if (mounted) spawnSync('umount', ['-l', mnt]);
  await rm(mnt, { recursive: true, force: true });
});

/** An S/MIME-looking message of about `size` bytes. */
function message(size: number, to = 'bob@example.net'): Buffer {
  const head = Buffer.from(
    `From: alice@example.org\r\nTo: ${to}\r\nSubject: full disk\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const body = randomBytes(Math.floor(((size - head.length) * 3) / 4))
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body), Buffer.from('\r\n')]);
}

const freeBytes = async (dir: string): Promise<number> => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/** Fills the mount until `leave` bytes are free; returns the filler's path. */
async function fill(leave: number): Promise<string> {
  const path = join(mnt, `filler-${randomBytes(4).toString('hex')}`);
  await writeFile(path, Buffer.alloc(Math.max(0, (await freeBytes(mnt)) - leave)));
  return path;
}

async function noBodyFiles(dir: string): Promise<void> {
  const f = await storedFiles(dir);
  expect(f.tmp).toEqual([]);
  expect(f.messages).toEqual([]);
}

describe.skipIf(!mounted)('a full disk (tmpfs)', () => {
  it('refuses with 507 and 452 4.3.1 when writes run short, keeps nothing, and takes mail again once freed', async () => {
    const dir = join(mnt, 'short');
    await mkdir(dir);
    // No reserve: the writes themselves run into the full disk.
    const t: TestServer = await startTestServer({
      dir,
      args: ['--min-free-space', '0', '--smtp-port', '0', '--smtp-allow-insecure-auth'],
    });
    try {
      const filler = await fill(300 * 1024);
      // 800,000 bytes into ~300 KiB: the one writev() of the body writes what fits.
      const r = await submit(t, message(800_000));
      expect(r.status).toBe(507);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('insufficient-storage');
      expect(r.headers.get('retry-after')).toBe('30');
      await noBodyFiles(dir);

      const smtp = await sendWithNodemailer({
        port: t.server.smtpPort!,
        from: t.senderEmail,
        to: ['bob@example.net'],
        raw: message(800_000),
        auth: { user: t.senderEmail, pass: t.apiKey },
      });
      expect(smtp.ok).toBe(false);
      expect(smtp.code).toBe(452);
      expect(smtp.response).toContain('4.3.1');
      await noBodyFiles(dir);

      await rm(filler);
      const body = message(800_000);
      const ok = await submit(t, body);
      expect(ok.status).toBe(201);
      const { id } = (await ok.json()) as { id: string };
      expect((await t.server.store.submissions.get(id))?.size).toBe(body.length);

      // At the edge: the body fits, the metadata commit may not. Either stored whole or 507 —
      // never a 500 (SQLite rolls back by itself on SQLITE_FULL; a second ROLLBACK must not hide it).
      for (const extra of [0, 8 * 1024, 32 * 1024, 96 * 1024]) {
        const m = message(60_000);
        const edge = await fill(m.length + extra);
        const res = await submit(t, m);
        expect([201, 507]).toContain(res.status);
        if (res.status === 201) {
          const stored = await t.server.store.submissions.get(((await res.json()) as { id: string }).id);
          expect(stored?.size).toBe(m.length);
        }
        await rm(edge);
      }
      expect((await storedFiles(dir)).tmp).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('is not ready under --min-free-space, refuses uploads there, and resumes when space is freed', async () => {
    const dir = join(mnt, 'reserve');
    await mkdir(dir);
    const t = await startTestServer({ dir, args: ['--min-free-space', '1MiB'] });
    try {
      expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
      const filler = await fill(512 * 1024);
      await sleep(1100); // the free-space reading is cached for a second
      const ready = await fetch(`${t.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/free space/);
      const refused = await submit(t, message(10_000));
      expect(refused.status).toBe(507);
      await noBodyFiles(dir);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      expect(metrics).toMatch(/sealpost_data_free_bytes \d+/);

      await rm(filler);
      await sleep(1100);
      expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
      const body = message(200_000);
      const ok = await submit(t, body);
      expect(ok.status).toBe(201);
      const mail = (await outbox(t.url)).find((m) => m.to === 'bob@example.net');
      const deadline = Date.now() + 10_000;
      let text = mail?.text;
      while (!text && Date.now() < deadline) {
        await sleep(50);
        text = (await outbox(t.url)).find((m) => m.to === 'bob@example.net')?.text;
      }
      const link = linkIn(text!);
      const got = await fetch(`${t.url}/api/v1/pickup/${link.id}/content`, {
        headers: { 'x-sealpost-secret': link.secret },
      });
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('lets recipients open a message whose state change cannot be recorded, and records it later', async () => {
    const dir = join(mnt, 'later');
    await mkdir(dir);
    const t = await startTestServer({ dir, args: ['--min-free-space', '0'] });
    try {
      const body = message(50_000);
      expect((await submit(t, body)).status).toBe(201);
      let text: string | undefined;
      const deadline = Date.now() + 10_000;
      while (!text && Date.now() < deadline) {
        await sleep(50);
        text = (await outbox(t.url)).find((m) => m.to === 'bob@example.net')?.text;
      }
      const link = linkIn(text!);
      // The store refuses every state change as SQLite does on a full disk.
      const deliveries = t.server.store.deliveries;
      const transition = deliveries.transition.bind(deliveries);
      deliveries.transition = async () => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      };
      const h = { 'x-sealpost-secret': link.secret };
      const meta = await fetch(`${t.url}/api/v1/pickup/${link.id}`, { headers: h });
      expect(meta.status).toBe(200);
      const got = await fetch(`${t.url}/api/v1/pickup/${link.id}/content`, { headers: h });
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
      expect((await t.server.store.deliveries.get(link.id))?.delivery.state).not.toBe('opened');
      // A receipt is an explicit change: refused as what it is (507), not a 500.
      const receipt = await fetch(`${t.url}/api/v1/pickup/${link.id}/receipt`, {
        method: 'POST',
        headers: h,
      });
      expect(receipt.status).toBe(507);

      deliveries.transition = transition;
      const until = Date.now() + 8000;
      while ((await t.server.store.deliveries.get(link.id))?.delivery.state !== 'opened') {
        if (Date.now() > until) throw new Error('the kept "opened" was not recorded');
        await sleep(100);
      }
      expect(t.logs.join('')).toContain('kept to record later');
    } finally {
      await t.close();
    }
  });
});
