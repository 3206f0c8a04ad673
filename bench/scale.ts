/**
 * `npm run bench:scale` — throughput of the two stores, side by side, in one run:
 *   - the embedded store (SQLite + files), one node;
 *   - PostgreSQL, one node;
 *   - PostgreSQL, two nodes (two `sealpost serve` processes, one database, the load split evenly).
 * For each: (1) submissions/s of 10 KB S/MIME-shaped messages over 16 connections (each durable
 * before its 201, each queuing a notification), then — once the notifications are written — (2)
 * pickups/s: GET /api/v1/pickup/:id/content of a stored 100 KB message (secret check, state, body
 * stream) over 16 connections. The nodes run as their own processes, like in production; all three
 * configurations run at once and are measured in turn, BENCH_ROUNDS times (default 3), and the
 * median is reported, so that a shared machine's load falls on all of them alike.
 *
 * PostgreSQL: BENCH_DATABASE (default postgres://postgres@127.0.0.1:5432/test); each configuration
 * gets a fresh database, dropped afterwards. BENCH_SECONDS (default 5) per measurement. Results go
 * to stdout and bench/out/scale.json; record them in docs/performance.md.
 *
 * BENCH_BASELINE=DIR (a checkout of another commit, e.g. `git worktree add /tmp/base HEAD~1` with its
 * node_modules) runs the same three configurations of that checkout too, in the same interleaved
 * rounds, and prints this checkout's figures as ratios of the baseline's.
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSenderWithCli, spawnServe, type ServeProcess } from '../test/helpers/serve.ts';
import pg from 'pg';
import { randomId } from '../src/server/secrets.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PG_URL = process.env.BENCH_DATABASE ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = 16;
const BASE_URL = 'https://sealpost.example.org';
const SEALING_KEY = randomBytes(32).toString('base64');
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : null;

function message(size: number, to = 'bob@example.net'): Buffer {
  const head = Buffer.from(
    `From: alice@example.org\r\nTo: ${to}\r\nSubject: bench\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const raw = randomBytes(Math.floor(((size - head.length) * 3) / 4));
  const body = raw.toString('base64').replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body)]).subarray(0, size);
}

type Node = ServeProcess;

function startNode(root: string, args: string[]): Promise<Node> {
  return spawnServe(
    // prettier-ignore
    ['--port', '0', '--smtp-port', 'off', '--log-level', 'warn',
      '--rate-limit', '100000000', '--sender-rate-limit', '100000000', ...args],
    { stderr: 'inherit', env: { SEALPOST_SEALING_KEY: SEALING_KEY }, root },
  );
}

async function stopNode(n: Node): Promise<void> {
  if (n.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
  n.child.kill('SIGTERM');
  await exited;
}

/** Waits until no notification is queued (the nodes' workers have written them all). */
async function drainOutbox(url: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (/sealpost_outbox_mails\{state="queued"\} 0\b/.test(metrics)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the outbox did not drain');
}

/** Runs autocannon against every node at once, the connections split evenly; total 2xx per second. */
async function load(
  nodes: Node[],
  make: (n: Node) => { path: string; method?: string; headers: Record<string, string>; body?: Buffer },
): Promise<{ perSecond: number; p50: number; p99: number; non2xx: number }> {
  const results = await Promise.all(
    nodes.map((n) => {
      const r = make(n);
      return autocannon({
        url: `${n.url}${r.path}`,
        method: r.method ?? 'GET',
        connections: CONNECTIONS / nodes.length,
        duration: DURATION,
        headers: r.headers,
        ...(r.body ? { body: r.body } : {}),
      });
    }),
  );
  const ok = results.reduce((s, r) => s + r['2xx'], 0);
  return {
    perSecond: ok / DURATION,
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((s, r) => s + r.non2xx, 0),
  };
}

type Load = Awaited<ReturnType<typeof load>>;

/** A configuration under test: its nodes, a sender's key, and a stored 100 KB message to pick up. */
interface Setup {
  name: string;
  /** The checkout measured: this one, or the baseline. */
  root: string;
  nodes: Node[];
  apiKey: string;
  link: { id: string; secret: string };
  stop(): Promise<void>;
  submissions: Load[];
  pickups: Load[];
}

async function pickupLink(node: Node, apiKey: string): Promise<{ id: string; secret: string }> {
  // One 100 KB message, its link read from the built-in outbox.
  const to = `pickup-${randomId(6).toLowerCase()}@example.net`;
  const res = await fetch(`${node.url}/api/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'message/rfc822' },
    body: new Uint8Array(message(100 * 1024, to)),
  });
  if (res.status !== 201) throw new Error(`submission: HTTP ${res.status}`);
  for (let i = 0; i < 200; i++) {
    const mails = (await (await fetch(`${node.url}/api/v1/outbox`)).json()) as { to: string; text: string }[];
    const m = mails
      .filter((x) => x.to === to)
      .map((x) => /\/m\/([A-Za-z0-9_-]+)#([A-Za-z0-9_-]+)/.exec(x.text))
      .find(Boolean);
    if (m) return { id: m[1]!, secret: m[2]! };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no notification for the pickup message');
}

async function measureRound(c: Setup): Promise<void> {
  const small = message(10 * 1024);
  const submissions = await load(c.nodes, () => ({
    path: '/api/v1/messages',
    method: 'POST',
    headers: { authorization: `Bearer ${c.apiKey}`, 'content-type': 'message/rfc822' },
    body: small,
  }));
  // The notifications of those submissions are written before the pickups are measured.
  for (const n of c.nodes) await drainOutbox(n.url);
  const pickups = await load(c.nodes, () => ({
    path: `/api/v1/pickup/${c.link.id}/content`,
    headers: { 'x-sealpost-secret': c.link.secret },
  }));
  c.submissions.push(submissions);
  c.pickups.push(pickups);
  console.log(
    `  ${c.name}: ${submissions.perSecond.toFixed(0)} submissions/s (p99 ${submissions.p99} ms, ${submissions.non2xx} refused), ` +
      `${pickups.perSecond.toFixed(0)} pickups/s (p99 ${pickups.p99} ms, ${pickups.non2xx} non-2xx)`,
  );
}

const label = (root: string, name: string): string => (root === ROOT ? name : `${name} (baseline)`);

async function sqliteSetup(root: string): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-scale-'));
  const apiKey = seedSenderWithCli(root, ['--data', dir]);
  const node = await startNode(root, ['--data', dir]);
  return {
    name: label(root, 'SQLite, 1 node'),
    root,
    nodes: [node],
    apiKey,
    link: await pickupLink(node, apiKey),
    submissions: [],
    pickups: [],
    async stop() {
      await stopNode(node);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresSetup(root: string, admin: pg.Client, count: number): Promise<Setup> {
  const name = `sealpost_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const apiKey = seedSenderWithCli(root, ['--database', url]);
  const dirs: string[] = [];
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-scale-'));
    dirs.push(dir);
    nodes.push(await startNode(root, ['--data', dir, '--database', url, '--base-url', BASE_URL]));
  }
  return {
    name: label(root, `PostgreSQL, ${count} node${count > 1 ? 's' : ''}`),
    root,
    nodes,
    apiKey,
    link: await pickupLink(nodes[0]!, apiKey),
    submissions: [],
    pickups: [],
    async stop() {
      for (const n of nodes) await stopNode(n);
      for (const d of dirs) await rm(d, { recursive: true, force: true });
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (e) {
    console.error(`PostgreSQL is not reachable at ${PG_URL} (${(e as Error).message}); set BENCH_DATABASE.`);
    process.exit(2);
  }
  console.log(
    `${ROUNDS} rounds × ${DURATION} s per measurement, configurations interleaved; ${CONNECTIONS} connections in all, ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)}\n`,
  );
  const setups: Setup[] = [];
  try {
    for (const root of BASELINE ? [ROOT, BASELINE] : [ROOT])
      setups.push(
        await sqliteSetup(root),
        await postgresSetup(root, admin, 1),
        await postgresSetup(root, admin, 2),
      );
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}:`);
      for (const c of setups) await measureRound(c);
    }
    const w = 30;
    const line = (label: string, f: (c: Setup) => string): string =>
      `${label.padEnd(28)}${setups.map((c) => f(c).padStart(w)).join('')}`;
    console.log(`\nmedian of ${ROUNDS} rounds`);
    console.log(line('', (c) => c.name));
    console.log(
      line('submissions/s (10 KB)', (c) => median(c.submissions.map((x) => x.perSecond)).toFixed(0)),
    );
    console.log(line('  p99 latency (median)', (c) => `${median(c.submissions.map((x) => x.p99))} ms`));
    console.log(line('pickups/s (100 KB)', (c) => median(c.pickups.map((x) => x.perSecond)).toFixed(0)));
    console.log(line('  p99 latency (median)', (c) => `${median(c.pickups.map((x) => x.p99))} ms`));
    if (BASELINE) {
      console.log(`\nthis checkout / baseline (${BASELINE}), medians`);
      for (const c of setups.filter((x) => x.root === ROOT)) {
        const base = setups.find((x) => x.root === BASELINE && x.name === label(BASELINE, c.name))!;
        const ratio = (f: (s: Setup) => number[]) => (median(f(c)) / median(f(base))).toFixed(2);
        console.log(
          `  ${c.name.padEnd(22)} submissions/s ${ratio((s) => s.submissions.map((x) => x.perSecond))}` +
            `   pickups/s ${ratio((s) => s.pickups.map((x) => x.perSecond))}`,
        );
      }
    }
    console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
    const outDir = join(ROOT, 'bench/out');
    await mkdir(outDir, { recursive: true });
    await writeFile(
      join(outDir, 'scale.json'),
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          cpus: cpus().length,
          seconds: DURATION,
          rounds: ROUNDS,
          baseline: BASELINE,
          results: setups.map((c) => ({ name: c.name, submissions: c.submissions, pickups: c.pickups })),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const c of setups) await c.stop();
    await admin.end();
  }
}

await main();
