/**
 * npm run bench:open — decrypt+verify a ~100 MB S/MIME message made by `openssl cms` and a ~100 MB
 * OpenPGP message made by `gpg`, with Sealpost's core in Node, next to `openssl cms -decrypt` and
 * `gpg --decrypt` on the same files in the same run. Prints wall time, peak RSS and the ratios.
 *   SEALPOST_BENCH_MB=100 npm run bench:open
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../test/helpers/paths.ts';
import { makeBenchMime, timed, type Measure } from './lib.ts';

const MB = Number(process.env.SEALPOST_BENCH_MB ?? 100);
const out = join(ROOT, 'bench/out');
const K = join(FIXTURES, 'keys');
const GNUPGHOME = join(FIXTURES, 'gnupg');
mkdirSync(out, { recursive: true });
if (!existsSync(join(K, 'bob.p12')))
  execFileSync('bash', [join(ROOT, 'test/fixtures/make.sh')], { stdio: 'inherit' });

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
makeBenchMime(mime, MB);
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
