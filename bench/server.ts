/**
 * `npm run bench:server` — the delivery server against real peers, in one run:
 *   (a) download of a 100 MB stored message through the pickup content endpoint vs nginx serving the
 *       same file (both single-process, both measured with curl), as a ratio (goal ≥ 0.8);
 *   (b) submissions per second of 10 KB messages with durability on (fsync + WAL commit each);
 *   (c) p50/p99 latency of GET /m/:id under 64 concurrent clients (autocannon).
 * The server runs as its own process (`sealpost serve`), like in production. Results go to stdout
 * and bench/out/server.json; record them in docs/performance.md.
 *
 * BENCH_BASELINE=DIR (a checkout of another commit with its node_modules) measures that checkout
 * too, alternating with this one for BENCH_ROUNDS rounds (default 2 with a baseline, else 1), and
 * prints this checkout's medians as ratios of the baseline's.
 */
import autocannon from 'autocannon';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSenderWithCli, spawnServe } from '../test/helpers/serve.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;
const BIG = Number(process.env.BENCH_SIZE_MB ?? 100) * MB;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : null;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (BASELINE ? 2 : 1));

function header(): Buffer {
  return Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
}

function message(size: number): Buffer {
  const head = header();
  const raw = randomBytes(Math.floor(((size - head.length) * 3) / 4));
  const body = raw.toString('base64').replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body)]).subarray(0, size);
}

function startServer(root: string, dir: string) {
  return spawnServe(
    // prettier-ignore
    ['--data', dir, '--port', '0', '--smtp-port', 'off', '--log-level', 'warn',
      '--rate-limit', '100000000', '--sender-rate-limit', '100000000', '--max-message-size', '200MB'],
    { stderr: 'inherit', root },
  );
}

function postFile(url: string, apiKey: string, path: string, size: number): Promise<string> {
  return new Promise((ok, fail) => {
    const u = new URL(`${url}/api/v1/messages`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'message/rfc822',
          'content-length': String(size),
        },
      },
      (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () =>
          res.statusCode === 201 ? ok(t) : fail(new Error(`HTTP ${res.statusCode}: ${t}`)),
        );
      },
    );
    req.on('error', fail);
    createReadStream(path, { highWaterMark: MB }).pipe(req);
  });
}

/** Download speed in bytes/s with curl (median of RUNS). */
function curlSpeed(url: string, headers: string[]): number {
  const speeds: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const args = [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{speed_download} %{size_download} %{http_code}',
      ...headers.flatMap((h) => ['-H', h]),
      url,
    ];
    const r = spawnSync('curl', args, { encoding: 'utf8' });
    const [speed, size, code] = r.stdout.trim().split(' ');
    if (code !== '200' || Number(size) !== BIG) throw new Error(`curl ${url}: HTTP ${code}, ${size} bytes`);
    if (i > 0) speeds.push(Number(speed)); // first run warms the page cache and the JIT
  }
  speeds.sort((a, b) => a - b);
  return speeds[Math.floor(speeds.length / 2)]!;
}

async function startNginx(file: string): Promise<{ child: ChildProcess; url: string; prefix: string }> {
  const prefix = await mkdtemp(join(tmpdir(), 'sealpost-bench-nginx-'));
  const root = join(prefix, 'www');
  await mkdir(root);
  spawnSync('ln', ['-s', file, join(root, 'message.eml')]);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = `
worker_processes 1;
daemon off;
master_process off;
error_log ${prefix}/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  types { message/rfc822 eml; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    disable_symlinks off;
    location / { add_header Cache-Control no-store; }
  }
}
`;
  await writeFile(join(prefix, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' });
  const url = `http://127.0.0.1:${port}/message.eml`;
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-r', '0-0', url], {
      encoding: 'utf8',
    });
    if (r.stdout === '206' || r.stdout === '200') return { child, url, prefix };
    await new Promise((r2) => setTimeout(r2, 100));
  }
  throw new Error(`nginx did not start; see ${prefix}/error.log`);
}

async function findFile(dir: string, id: string): Promise<string> {
  for (const shard of await readdir(join(dir, 'messages'))) {
    const p = join(dir, 'messages', shard, id);
    if (existsSync(p)) return p;
  }
  throw new Error('stored message file not found');
}

/** One run of (a), (b) and (c) against the checkout `root`. */
async function measure(root: string) {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-'));
  const apiKey = seedSenderWithCli(root, ['--data', dir]);
  const { child, url } = await startServer(root, dir);
  let nginx: Awaited<ReturnType<typeof startNginx>> | null = null;
  try {
    // (a) 100 MB download vs nginx
    const bigPath = join(dir, 'big.eml');
    await writeFile(bigPath, message(BIG));
    const created = JSON.parse(await postFile(url, apiKey, bigPath, BIG)) as { id: string };
    await rm(bigPath);
    let link: { id: string; secret: string } | null = null;
    for (let i = 0; i < 100 && !link; i++) {
      const mails = (await (await fetch(`${url}/api/v1/outbox`)).json()) as { text: string }[];
      const m = mails.map((x) => /\/m\/([A-Za-z0-9_-]+)#([A-Za-z0-9_-]+)/.exec(x.text)).find(Boolean);
      if (m) link = { id: m[1]!, secret: m[2]! };
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!link) throw new Error('no notification');
    const file = await findFile(dir, created.id);
    if ((await stat(file)).size !== BIG) throw new Error('stored size differs');
    nginx = await startNginx(file);
    const sealpostSpeed = curlSpeed(`${url}/api/v1/pickup/${link.id}/content`, [
      `X-Sealpost-Secret: ${link.secret}`,
    ]);
    const nginxSpeed = curlSpeed(nginx.url, []);
    const ratio = sealpostSpeed / nginxSpeed;
    console.log(
      `(a) ${BIG / MB} MB download: sealpost ${(sealpostSpeed / MB).toFixed(0)} MB/s, nginx ${(nginxSpeed / MB).toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (goal ≥ 0.8)`,
    );

    // (b) submissions/s of 10 KB messages, durable
    const small = message(10 * 1024);
    const sub = await autocannon({
      url: `${url}/api/v1/messages`,
      method: 'POST',
      connections: 16,
      duration: DURATION,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'message/rfc822' },
      body: small,
    });
    const created2xx = sub['2xx'];
    const subsPerSec = created2xx / DURATION;
    console.log(
      `(b) 10 KB submissions: ${subsPerSec.toFixed(0)}/s (16 connections, ${created2xx} stored, ${sub.non2xx} refused, p50 ${sub.latency.p50} ms, p99 ${sub.latency.p99} ms)`,
    );

    // Let the outbox worker write the notifications of (b) first: (c) measures the page alone.
    for (let i = 0; i < 600; i++) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      if (/sealpost_outbox_mails\{state="queued"\} 0\b/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    // (c) /m/:id latency, 64 clients
    const page = await autocannon({ url: `${url}/m/${link.id}`, connections: 64, duration: DURATION });
    console.log(
      `(c) GET /m/:id, 64 clients: p50 ${page.latency.p50} ms, p99 ${page.latency.p99} ms, ${page.requests.average.toFixed(0)} req/s (${page.non2xx} non-2xx)`,
    );

    return {
      root,
      download: { sizeMB: BIG / MB, sealpostMBps: sealpostSpeed / MB, nginxMBps: nginxSpeed / MB, ratio },
      submissions: {
        sizeKB: 10,
        connections: 16,
        perSecond: subsPerSec,
        p50: sub.latency.p50,
        p99: sub.latency.p99,
      },
      pickupPage: {
        connections: 64,
        p50: page.latency.p50,
        p99: page.latency.p99,
        rps: page.requests.average,
      },
    };
  } finally {
    child.kill('SIGTERM');
    nginx?.child.kill('SIGTERM');
    if (nginx) await rm(nginx.prefix, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (spawnSync('nginx', ['-v']).status !== 0) {
    console.error('nginx is missing: apt-get install -y nginx (Debian)');
    process.exit(2);
  }
  const outDir = join(ROOT, 'bench/out');
  await mkdir(outDir, { recursive: true });
  console.log(`${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)}`);
  const runs: Awaited<ReturnType<typeof measure>>[] = [];
  for (let round = 1; round <= ROUNDS; round++)
    for (const root of BASELINE ? [ROOT, BASELINE] : [ROOT]) {
      console.log(`\nround ${round}: ${root === ROOT ? 'this checkout' : `baseline ${root}`}`);
      runs.push(await measure(root));
    }
  const median = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  if (BASELINE) {
    const of = (root: string) => runs.filter((r) => r.root === root);
    const ratio = (f: (r: (typeof runs)[number]) => number) =>
      (median(of(ROOT).map(f)) / median(of(BASELINE).map(f))).toFixed(2);
    console.log(`\nthis checkout / baseline (${BASELINE}), medians of ${ROUNDS}:`);
    console.log(`  (a) download MB/s ${ratio((r) => r.download.sealpostMBps)}`);
    console.log(`  (b) submissions/s ${ratio((r) => r.submissions.perSecond)}`);
    console.log(`  (c) page req/s ${ratio((r) => r.pickupPage.rps)}, p99 ${ratio((r) => r.pickupPage.p99)}`);
  }
  console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
  await writeFile(
    join(outDir, 'server.json'),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, baseline: BASELINE, runs }, null, 2)}\n`,
  );
}

await main();
