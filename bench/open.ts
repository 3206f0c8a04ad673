/**
 * npm run bench:open — decrypt+verify a ~100 MB S/MIME message made by `openssl cms` and a ~100 MB
 * OpenPGP message made by `gpg`, with Sealpost's core in Node, next to `openssl cms -decrypt` and
 * `gpg --decrypt` on the same files in the same run. Prints wall time, peak RSS and the ratios.
 *   SEALPOST_BENCH_MB=100 npm run bench:open
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../test/helpers/paths.ts';

const MB = Number(process.env.SEALPOST_BENCH_MB ?? 100);
const out = join(ROOT, 'bench/out');
const K = join(FIXTURES, 'keys');
const GNUPGHOME = join(FIXTURES, 'gnupg');
mkdirSync(out, { recursive: true });
if (!existsSync(join(K, 'bob.p12')))
  execFileSync('bash', [join(ROOT, 'test/fixtures/make.sh')], { stdio: 'inherit' });

/** A MIME message with a text part and an attachment, whose size is about MB megabytes. */
function makeMime(path: string): void {
  if (existsSync(path) && Math.abs(statSync(path).size - MB * 1e6) < MB * 1e5) return;
  const fd = openSync(path, 'w');
  const w = (s: string): void => void writeSync(fd, s);
  w('Content-Type: multipart/mixed; boundary="bench-boundary"\r\n\r\n--bench-boundary\r\n');
  w(
    'Content-Type: text/plain; charset=utf-8\r\n\r\nThe benchmark message. MARK-bench\r\n--bench-boundary\r\n',
  );
  w('Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.bin"\r\n');
  w('Content-Transfer-Encoding: base64\r\n\r\n');
  const rawBytes = Math.floor((MB * 1e6 * 0.74) / 57) * 57;
  for (let done = 0; done < rawBytes;) {
    const n = Math.min(57 * 16384, rawBytes - done);
    const b64 = randomBytes(n).toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
    w(`${lines.join('\r\n')}\r\n`);
    done += n;
  }
  w('--bench-boundary--\r\n');
  closeSync(fd);
}

interface Measure {
  ms: number;
  maxRssMb: number;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-500)}`);
  const [secs, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { ms: Math.round(secs! * 1000), maxRssMb: Math.round(kb! / 1024) };
}

function ours(file: string, args: string[]): Measure & Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/open-run.ts'), file, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=8192' },
  });
  if (r.status !== 0) throw new Error(`openMessage failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measure & Record<string, unknown>;
}

const mime = join(out, `bench-${MB}mb.mime`);
makeMime(mime);
const smime = join(out, `bench-${MB}mb-smime.eml`);
const pgp = join(out, `bench-${MB}mb-pgp.eml`);
const asc = join(out, `bench-${MB}mb.asc`);
// Made again whenever the fixtures (keys) were regenerated after them.
const stale = (f: string, key: string): boolean =>
  !existsSync(f) || statSync(f).mtimeMs < statSync(key).mtimeMs;
if (stale(smime, join(K, 'bob.pem'))) {
  console.log('making the S/MIME message with openssl cms (sign, then encrypt AES-256-CBC to bob)…');
  execFileSync('sh', [
    '-c',
    `openssl cms -sign -md sha256 -signer "${K}/alice.pem" -inkey "${K}/alice.key" -certfile "${K}/inter.pem" -in "${mime}" -binary \
     | openssl cms -encrypt -aes256 -binary -from alice@example.test -to bob@example.test -subject bench -out "${smime}" "${K}/bob.pem"`,
  ]);
}
if (stale(pgp, join(K, 'bob.pgp.sec.asc'))) {
  console.log('making the OpenPGP message with gpg (sign with alice, encrypt to bob, PGP/MIME)…');
  execFileSync(
    'gpg',
    [
      '--batch',
      '--yes',
      '--quiet',
      '--trust-model',
      'always',
      '--armor',
      '--sign',
      '--encrypt',
      '--local-user',
      'alice@example.test',
      '--recipient',
      'bob@example.test',
      '--output',
      asc,
      mime,
    ],
    { env: { ...process.env, GNUPGHOME } },
  );
  execFileSync('sh', [
    '-c',
    `{ printf 'From: alice@example.test\\r\\nTo: bob@example.test\\r\\nSubject: bench\\r\\nMIME-Version: 1.0\\r\\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="pgp-b"\\r\\n\\r\\n--pgp-b\\r\\nContent-Type: application/pgp-encrypted\\r\\n\\r\\nVersion: 1\\r\\n\\r\\n--pgp-b\\r\\nContent-Type: application/octet-stream; name="encrypted.asc"\\r\\n\\r\\n'; cat "${asc}"; printf '\\r\\n--pgp-b--\\r\\n'; } > "${pgp}"`,
  ]);
}

const sizeMb = (f: string): string => (statSync(f).size / 1e6).toFixed(1);
console.log(`\nS/MIME message: ${sizeMb(smime)} MB; OpenPGP message: ${sizeMb(pgp)} MB\n`);

const rows: [string, Measure, Measure][] = [];
{
  const peer = timed('openssl', [
    'cms',
    '-decrypt',
    '-in',
    smime,
    '-recip',
    `${K}/bob.pem`,
    '-inkey',
    `${K}/bob.key`,
    '-out',
    '/dev/null',
  ]);
  const me = ours(smime, ['--key', `${K}/bob.p12`, '--passphrase', 'bob-pass', '--trust', `${K}/root.pem`]);
  console.log('sealpost S/MIME:', JSON.stringify(me));
  rows.push(['S/MIME decrypt+verify vs openssl cms -decrypt', me, peer]);
}
{
  const peer = timed(
    'gpg',
    [
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
    ],
    {
      ...process.env,
      GNUPGHOME,
    },
  );
  const me = ours(pgp, [
    '--key',
    `${K}/bob.pgp.sec.asc`,
    '--passphrase',
    'bob-pass',
    '--trust',
    `${K}/alice.pgp.pub.asc`,
  ]);
  console.log('sealpost OpenPGP:', JSON.stringify(me));
  rows.push(['OpenPGP decrypt+verify vs gpg --decrypt', me, peer]);
}

console.log(`\n| ${MB} MB message | Sealpost wall | peer wall | ratio | Sealpost peak RSS | peer peak RSS |`);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [name, me, peer] of rows) {
  console.log(
    `| ${name} | ${(me.ms / 1000).toFixed(2)} s | ${(peer.ms / 1000).toFixed(2)} s | ${(me.ms / Math.max(peer.ms, 1)).toFixed(2)}× | ${me.maxRssMb} MB | ${peer.maxRssMb} MB |`,
  );
}
