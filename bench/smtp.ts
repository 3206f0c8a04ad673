/**
 * `npm run bench:smtp` — the SMTP relay against Postfix's own test tools, in one run:
 *   (a) Postfix's smtp-sink (accepts and discards, nothing written) fed by smtp-source: 20 sessions,
 *       10 KB messages — the ceiling of an SMTP server on this machine;
 *   (b) the Sealpost relay fed by the same smtp-source command: each plain message fsynced into the
 *       durable forward queue before its 250 (and forwarded to a second smtp-sink meanwhile); (b)/(a) is
 *       the headline ratio;
 *   (c) the divert path: 10 KB S/MIME-shaped messages over 20 pooled nodemailer connections, each
 *       stored as a web delivery (file + directory fsync + SQLite commit, notification queued) before
 *       its 250, vs (d) the same nodemailer client against smtp-sink.
 * The server runs as its own process (`sealpost serve`), like in production. Results go to stdout and
 * bench/out/smtp.json; record them in docs/performance.md. Needs Debian's postfix package (smtp-sink,
 * smtp-source); without it the bench says so loudly and stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSender, spawnServe } from '../test/helpers/serve.ts';
import nodemailer from 'nodemailer';
import { openSqliteStore } from '../src/server/store/sqlite.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = 20;
const SIZE = 10 * 1024;

function which(cmd: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (spawnSync('test', ['-x', join(dir, cmd)]).status === 0) return join(dir, cmd);
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = createServer();
      s.once('error', () => r(true)); // in use: someone listens
      s.listen(port, '127.0.0.1', () => s.close(() => r(false)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function startSink(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const child = spawn(
    which('smtp-sink')!,
    [...(asRoot ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '256'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(port);
  return { child, port };
}

/** smtp-source's wall time for MESSAGES messages of SIZE bytes over SESSIONS sessions. */
function smtpSource(port: number): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(
    which('smtp-source')!,
    [
      '-d',
      '-s',
      String(SESSIONS),
      '-m',
      String(MESSAGES),
      '-l',
      String(SIZE),
      '-f',
      'alice@example.org',
      '-t',
      'bob@example.net',
      `127.0.0.1:${port}`,
    ],
    { encoding: 'utf8' },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`smtp-source failed: ${r.stderr}`);
  return seconds;
}

function encryptedMessage(size: number): Buffer {
  const head = Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const body = randomBytes(Math.floor(((size - head.length) * 3) / 4))
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body), Buffer.from('\r\n')]);
}

/** Wall time for MESSAGES messages over SESSIONS pooled nodemailer connections. */
async function nodemailerRun(port: number, raw: Buffer): Promise<number> {
  const t = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: SESSIONS,
    maxMessages: Infinity,
  });
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      while (next < MESSAGES) {
        next++;
        await t.sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.net'] }, raw });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  t.close();
  return seconds;
}

async function startSealpost(dir: string, upstreamPort: number) {
  const serve = await spawnServe(
    // prettier-ignore
    ['--data', dir, '--port', '0', '--smtp-port', '0', '--smtp-trusted-networks', '127.0.0.1/32',
      '--smtp-upstream', `smtp://127.0.0.1:${upstreamPort}`, '--smtp-max-connections-per-ip', '100',
      '--sender-rate-limit', '100000000', '--log-level', 'warn'],
    { stderr: 'inherit' },
  );
  return { ...serve, port: serve.smtpPort! };
}

async function main(): Promise<void> {
  if (!which('smtp-sink') || !which('smtp-source')) {
    const line = '!'.repeat(78);
    console.error(
      `\n${line}\n!! bench:smtp NEEDS POSTFIX: smtp-sink and smtp-source were not found.\n!! Install them with: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix\n!! (then make sure the postfix service itself is not left running on port 25).\n!! No figures were measured.\n${line}\n`,
    );
    process.exit(2);
  }
  const outDir = join(ROOT, 'bench/out');
  await mkdir(outDir, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-smtp-'));
  const store = await openSqliteStore({ dataDir: dir });
  await seedSender(store);
  await store.close();

  const sink = await startSink();
  const upstream = await startSink();
  const sealpost = await startSealpost(dir, upstream.port);
  try {
    const rate = (s: number): number => MESSAGES / s;
    // Warm-up: the JIT, the page cache, the database file.
    smtpSource(sink.port);
    await nodemailerRun(sealpost.port, encryptedMessage(SIZE));

    const a = rate(smtpSource(sink.port));
    console.log(
      `(a) smtp-sink ← smtp-source: ${a.toFixed(0)} msgs/s (${SESSIONS} sessions, ${SIZE / 1024} KB, ${MESSAGES} messages)`,
    );
    const b = rate(smtpSource(sealpost.port));
    console.log(
      `(b) sealpost relay, forward queue ← smtp-source: ${b.toFixed(0)} msgs/s, durable (fsync before 250)`,
    );
    console.log(`    ratio (b)/(a) = ${(b / a).toFixed(3)}`);
    const raw = encryptedMessage(SIZE);
    const d = rate(await nodemailerRun(sink.port, raw));
    const c = rate(await nodemailerRun(sealpost.port, raw));
    console.log(`(c) sealpost relay, divert to web delivery ← nodemailer: ${c.toFixed(0)} msgs/s, durable`);
    console.log(`(d) smtp-sink ← nodemailer: ${d.toFixed(0)} msgs/s`);
    console.log(`    ratio (c)/(d) = ${(c / d).toFixed(3)}`);

    const check = await openSqliteStore({ dataDir: dir });
    const fwd = await check.forwards.stats();
    await check.close();
    console.log(
      `    forward queue after the run: ${fwd.sent} sent, ${fwd.queued} queued, ${fwd.failed} failed`,
    );

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      messages: MESSAGES,
      sessions: SESSIONS,
      sizeBytes: SIZE,
      smtpSink: { smtpSource: a, nodemailer: d },
      sealpost: { forwardQueue: b, divert: c },
      ratios: { forward: b / a, divert: c / d },
    };
    await writeFile(join(outDir, 'smtp.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    sealpost.child.kill('SIGTERM');
    sink.child.kill('SIGTERM');
    upstream.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
