/**
 * npm run bench:receiver — opening a large message in the receiver, in a real Chromium against a
 * real server, next to `openssl cms -decrypt` and `gpg --decrypt` on the same files in the same run.
 *
 * For each size (default 1 and 50 MB) an S/MIME message (`openssl cms -encrypt -aes256` to the
 * corpus's bob.pem) and a PGP/MIME one (`gpg --encrypt` to bob.pub.asc) are made, submitted, and
 * opened from their link as a recipient does: the page downloads the message into the worker,
 * asks for a key, bob's key file is imported (for this session only), the message is decrypted,
 * parsed and shown. Measured:
 *   - open: navigation → key prompt (download + first pass) plus "Import key" → message shown,
 *     i.e. the whole wait of a recipient less their own typing;
 *   - decrypt: "Import key" → shown (the data already in the worker), as MB/s;
 *   - peak RSS of the whole browser (all Chromium processes), sampled every 50 ms, and its growth
 *     over the idle browser;
 * and for the peers their wall time and peak RSS (/usr/bin/time). Prints a Markdown table.
 *   BENCH_SIZES=1,50 npm run bench:receiver
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReceiver } from '../test/e2e/helpers.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { CORPUS, ROOT } from '../test/helpers/paths.ts';
import { linkIn, outbox, sleep, startTestServer, submit } from '../test/server/helpers.ts';
import { makeBenchMime, timed } from './lib.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1,50').split(',').map(Number);
const K = join(CORPUS, 'keys');
const out = join(ROOT, 'bench/out');
mkdirSync(out, { recursive: true });

const gnupg = mkdtempSync(join(tmpdir(), 'sealpost-bench-gpg-'));
const gpg = (args: string[]): void => {
  execFileSync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--quiet', ...args], { stdio: 'pipe' });
};
gpg(['--pinentry-mode', 'loopback', '--passphrase', 'bob-pass', '--import', join(K, 'bob.sec.asc')]);

function makeMessages(mb: number): { smime: string; pgp: string; asc: string } {
  const mime = join(out, `receiver-${mb}mb.mime`);
  makeBenchMime(mime, mb);
  const smime = join(out, `receiver-${mb}mb-smime.eml`);
  const asc = join(out, `receiver-${mb}mb.asc`);
  const pgp = join(out, `receiver-${mb}mb-pgp.eml`);
  if (!existsSync(smime))
    execFileSync('openssl', [
      'cms',
      '-encrypt',
      '-aes256',
      '-binary',
      '-from',
      'alice@example.org',
      '-to',
      'bob@example.net',
      '-subject',
      `bench ${mb} MB S/MIME`,
      '-in',
      mime,
      '-out',
      smime,
      join(K, 'bob.pem'),
    ]);
  if (!existsSync(pgp)) {
    gpg(['--trust-model', 'always', '--armor', '--encrypt', '-r', 'bob@example.net', '-o', asc, mime]);
    const head =
      'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench ' +
      `${mb} MB OpenPGP\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="pgp-b"\r\n\r\n' +
      '--pgp-b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n' +
      '--pgp-b\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n';
    const fd = openSync(pgp, 'w');
    writeSync(fd, head);
    writeSync(fd, readFileSync(asc));
    writeSync(fd, '\r\n--pgp-b--\r\n');
    closeSync(fd);
  }
  return { smime, pgp, asc };
}

/** RSS of every process under this one (the browser and its renderers, GPU, utility processes). */
function descendantsRssMb(): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
      rss.set(Number(d), Number(fields[21]) * 4096);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const todo = [...(children.get(process.pid) ?? [])];
  while (todo.length) {
    const p = todo.pop()!;
    total += rss.get(p) ?? 0;
    todo.push(...(children.get(p) ?? []));
  }
  return total / 1048576;
}

interface Ours {
  baselineMb: number;
  openMs: number;
  decryptMs: number;
  rssMb: number;
}

const receiverDir = buildReceiver();
const t = await startTestServer({ args: ['--max-message-size', '200MB', '--receiver-dir', receiverDir] });
const browser = await launchChromium();

async function openInBrowser(file: string, key: string): Promise<Ours> {
  // One retry: on this shared 2-core machine a 70 MB upload was once reset mid-way.
  const body = readFileSync(file);
  const res = await submit(t, body, '?to=bob@example.net').catch(async () => {
    await sleep(1000);
    return submit(t, body, '?to=bob@example.net');
  });
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
  const deliveryId = ((await res.json()) as { deliveries: { id: string }[] }).deliveries[0]!.id;
  let link = '';
  while (!link) {
    const mail = (await outbox(t.url)).find((m) => m.text.includes(`/m/${deliveryId}#`));
    if (mail) link = linkIn(mail.text).link;
    else await sleep(50);
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  const baseline = descendantsRssMb();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, descendantsRssMb())), 50);
  try {
    const t0 = performance.now();
    await page.goto(link);
    await page.getByLabel('Key file').waitFor({ timeout: 600_000 });
    const t1 = performance.now();
    await page.getByLabel('Key file').setInputFiles(key);
    await page.getByLabel('Passphrase', { exact: true }).fill('bob-pass');
    await page.getByRole('checkbox', { name: /Keep this key/ }).uncheck();
    const t2 = performance.now();
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.getByText('MARK-bench').waitFor({ timeout: 600_000 });
    const t3 = performance.now();
    return { openMs: t1 - t0 + (t3 - t2), decryptMs: t3 - t2, rssMb: peak, baselineMb: baseline };
  } finally {
    clearInterval(sampler);
    await context.close();
  }
}

const rows: string[] = [];
try {
  for (const mb of SIZES) {
    const { smime, pgp, asc } = makeMessages(mb);
    for (const [name, file, key, peer] of [
      [
        'S/MIME (AES-256-CBC, RSA)',
        smime,
        join(K, 'bob.p12'),
        () =>
          timed('openssl', [
            'cms',
            '-decrypt',
            '-in',
            smime,
            '-recip',
            join(K, 'bob.pem'),
            '-inkey',
            join(K, 'bob.key'),
            '-out',
            '/dev/null',
          ]),
      ],
      [
        'OpenPGP (PGP/MIME, gpg)',
        pgp,
        join(K, 'bob.sec.asc'),
        () =>
          timed('gpg', [
            '--homedir',
            gnupg,
            '--batch',
            '--quiet',
            '--pinentry-mode',
            'loopback',
            '--passphrase',
            'bob-pass',
            '--decrypt',
            '--output',
            '/dev/null',
            asc,
          ]),
      ],
    ] as const) {
      const sizeMb = statSync(file).size / 1e6;
      peer(); // warm-up: page cache, gpg-agent start
      const p = peer();
      const o = await openInBrowser(file, key);
      const row =
        `| ${name} | ${sizeMb.toFixed(1)} MB | ${(o.openMs / 1000).toFixed(2)} s | ` +
        `${(sizeMb / (o.decryptMs / 1000)).toFixed(1)} MB/s | ${Math.round(o.rssMb)} MB (+${Math.round(o.rssMb - o.baselineMb)}) | ` +
        `${(p.ms / 1000).toFixed(2)} s | ${p.maxRssMb} MB | **${(o.openMs / Math.max(p.ms, 10)).toFixed(1)}×** |`;
      console.log(row);
      rows.push(row);
    }
  }
} finally {
  await browser.close();
  await t.close();
  rmSync(gnupg, { recursive: true, force: true });
  rmSync(receiverDir, { recursive: true, force: true });
}

console.log(
  '\n| message | size | receiver: open | receiver: decrypt+parse | browser peak RSS (+ over idle) | peer (openssl cms / gpg) | peer peak RSS | ratio |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
