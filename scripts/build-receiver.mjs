#!/usr/bin/env node
// Builds the receiver app into dist/receiver when its sources changed (the build id is a hash of
// everything that goes into it), then pins every script and stylesheet of index.html with
// Subresource Integrity and writes version.json, the web app manifest and the icon.
//   node scripts/build-receiver.mjs          # only when needed
//   node scripts/build-receiver.mjs --force  # always
//   node scripts/build-receiver.mjs --out DIR  # into DIR instead of dist/receiver (tests, benchmarks)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--out');
const out =
  outArg > 0 && process.argv[outArg + 1] ? resolve(process.argv[outArg + 1]) : join(root, 'dist/receiver');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)],
  );
}

const inputs = [
  ...files(join(root, 'src/receiver')),
  ...files(join(root, 'src/core')),
  join(root, 'package-lock.json'),
  join(root, 'vite.receiver.config.ts'),
  fileURLToPath(import.meta.url),
].sort();
const hash = createHash('sha256');
for (const f of inputs) hash.update(relative(root, f)).update('\0').update(readFileSync(f));
hash.update(pkg.version);
const build = hash.digest('hex').slice(0, 16);

const versionFile = join(out, 'version.json');
if (!process.argv.includes('--force') && existsSync(versionFile)) {
  try {
    if (JSON.parse(readFileSync(versionFile, 'utf8')).build === build) {
      console.log(`receiver: up to date (build ${build})`);
      process.exit(0);
    }
  } catch {
    /* rebuild */
  }
}

console.log(`receiver: building ${pkg.version} (build ${build})`);
const r = spawnSync(
  process.execPath,
  [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.receiver.config.ts'],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      SEALPOST_RECEIVER_BUILD: build,
      SEALPOST_RECEIVER_VERSION: pkg.version,
      SEALPOST_RECEIVER_OUT: out,
    },
  },
);
if (r.status !== 0) process.exit(r.status ?? 1);

// Subresource Integrity for every script and stylesheet the page references.
const sri = (path) => `sha384-${createHash('sha384').update(readFileSync(path)).digest('base64')}`;
const indexPath = join(out, 'index.html');
let html = readFileSync(indexPath, 'utf8');
html = html.replace(
  /<(script|link)\b([^>]*?)\s(src|href)="(\/receiver\/assets\/[^"]+)"([^>]*)>/g,
  (tag, name, before, attr, url, after) => {
    if (/integrity=/.test(tag)) return tag;
    const file = join(out, url.slice('/receiver/'.length));
    return `<${name}${before} ${attr}="${url}" integrity="${sri(file)}"${after}>`;
  },
);
writeFileSync(indexPath, html);

const assets = files(join(out, 'assets')).map((f) => `/receiver/${relative(out, f).split('\\').join('/')}`);
// What index.html loads: its scripts and stylesheets, the crypto worker the page script starts, and
// their static imports. The service worker precaches only these; the OpenPGP and S/MIME halves are
// cached when a message first needs them.
const firstLoad = new Set();
{
  const todo = [...html.matchAll(/\s(?:src|href)="(\/receiver\/assets\/[^"]+)"/g)].map((m) => m[1]);
  while (todo.length) {
    const url = todo.pop();
    if (firstLoad.has(url)) continue;
    firstLoad.add(url);
    if (!url.endsWith('.js')) continue;
    const code = readFileSync(join(out, url.slice('/receiver/'.length)), 'utf8');
    for (const m of code.matchAll(/(?:from|import)\s*["'`]\.\/([^"'`]+\.js)["'`]/g))
      todo.push(`/receiver/assets/${m[1]}`);
    for (const m of code.matchAll(/["'`](\/receiver\/assets\/worker-[^"'`]+\.js)["'`]/g)) todo.push(m[1]);
  }
}
writeFileSync(
  versionFile,
  `${JSON.stringify(
    {
      version: pkg.version,
      build,
      builtAt: new Date().toISOString(),
      assets,
      firstLoad: [...firstLoad].sort(),
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(out, 'manifest.webmanifest'),
  `${JSON.stringify(
    {
      name: 'Sealpost secure messages',
      short_name: 'Sealpost',
      description: 'Open, decrypt and verify secure e-mail in your browser.',
      start_url: '/receiver/',
      scope: '/',
      display: 'standalone',
      background_color: '#f6f7f9',
      theme_color: '#1d4f91',
      icons: [{ src: '/receiver/icon.svg', sizes: 'any', type: 'image/svg+xml' }],
    },
    null,
    2,
  )}\n`,
);
writeFileSync(
  join(out, 'icon.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1d4f91"/><path d="M12 20h40v26H12z" fill="#fff"/><path d="M12 20l20 15 20-15" fill="none" stroke="#1d4f91" stroke-width="3"/><circle cx="46" cy="44" r="9" fill="#c8102e"/></svg>\n',
);
const total = assets.reduce((n, a) => n + statSync(join(out, a.slice('/receiver/'.length))).size, 0);
console.log(`receiver: ${assets.length} assets, ${(total / 1024).toFixed(0)} KiB → ${relative(root, out)}`);
