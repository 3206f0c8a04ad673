/**
 * The receiver app's static files, pluggable: when a built receiver exists (`dist/receiver/`, or
 * `--receiver-dir`), `/m/:id` serves its `index.html` and `/receiver/<path>` its other files (build
 * it with Vite's `base: '/receiver/'`). Otherwise a minimal built-in page and script stand in: they
 * show the delivery's metadata, let the recipient save the encrypted message and send the receipt.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { escapeHtml } from '../http/pages.ts';

export interface ReceiverFile {
  body: Readable | Buffer;
  type: string;
  size: number;
  /** Content-hashed file names may be cached for good. */
  immutable: boolean;
}

export interface ReceiverAssets {
  kind: 'dist' | 'builtin';
  dir: string | null;
  /** The page served at /m/:id. */
  indexHtml(): Buffer;
  /** A file under /receiver/ (path relative to it), or null. */
  file(relPath: string): Promise<ReceiverFile | null>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export const DEFAULT_RECEIVER_DIR = fileURLToPath(new URL('../../../dist/receiver/', import.meta.url));

function distAssets(dir: string): ReceiverAssets {
  const root = resolve(dir);
  const index = readFileSync(join(root, 'index.html'));
  return {
    kind: 'dist',
    dir: root,
    indexHtml: () => index,
    async file(relPath) {
      if (relPath.includes('\0') || relPath.split('/').some((p) => p === '..' || p.startsWith('.')))
        return null;
      const abs = resolve(root, relPath);
      if (!abs.startsWith(root + sep)) return null;
      const type = TYPES[extname(abs).toLowerCase()];
      if (!type) return null;
      try {
        const s = await stat(abs);
        if (!s.isFile()) return null;
        return {
          body: createReadStream(abs),
          type,
          size: s.size,
          immutable: /[-.][A-Za-z0-9_]{8,}\.[a-z0-9]+$/.test(abs),
        };
      } catch {
        return null;
      }
    },
  };
}

export function builtinAssets(brandName: string): ReceiverAssets {
  const index = Buffer.from(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Secure message · ${escapeHtml(brandName)}</title>
<link rel="stylesheet" href="/assets/style.css">
<!--sealpost-config-->
<script src="/receiver/app.js" defer></script>
</head>
<body>
<header><span class="brand">${escapeHtml(brandName)}</span></header>
<main>
<h1>A secure message for you</h1>
<div id="receiver" class="card" aria-live="polite"><p>Loading…</p></div>
<noscript><p class="error">Opening a secure message needs JavaScript: it is decrypted in your browser.</p></noscript>
<p class="note">This is the server's minimal receiver page: it lets you save the encrypted message
for your own S/MIME or OpenPGP software. The full receiver app decrypts it here in the browser.</p>
</main>
</body>
</html>
`);
  const app = readFileSync(new URL('../static/receiver.js', import.meta.url));
  return {
    kind: 'builtin',
    dir: null,
    indexHtml: () => index,
    async file(relPath) {
      if (relPath !== 'app.js') return null;
      return { body: app, type: TYPES['.js']!, size: app.length, immutable: false };
    },
  };
}

/** The built receiver in `dir` when it has an index.html, else the built-in page. */
export function createReceiverAssets(dir: string | null, brandName: string): ReceiverAssets {
  const candidate = dir ?? DEFAULT_RECEIVER_DIR;
  if (existsSync(join(candidate, 'index.html'))) return distAssets(candidate);
  return builtinAssets(brandName);
}
