/**
 * Server-rendered HTML: one layout, escaping for every interpolated value, no inline script or
 * style (the CSP forbids both): behaviour comes from script files under /assets/.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export interface PageOptions {
  title: string;
  brandName: string;
  body: string;
  scripts?: string[];
}

export function page(o: PageOptions): string {
  const scripts = (o.scripts ?? []).map((s) => `<script src="${escapeHtml(s)}" defer></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(o.title)} · ${escapeHtml(o.brandName)}</title>
<link rel="stylesheet" href="/assets/style.css">
${scripts}
</head>
<body>
<header><a class="brand" href="/">${escapeHtml(o.brandName)}</a></header>
<main>
${o.body}
</main>
</body>
</html>
`;
}

export interface StaticAsset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The server's own small static files (src/server/static), read once at start. */
export function loadBuiltinAssets(): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  for (const name of ['style.css', 'send.js', 'receiver.js']) {
    const body = readFileSync(new URL(`../static/${name}`, import.meta.url));
    const ext = name.slice(name.lastIndexOf('.'));
    out.set(name, {
      body,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`,
    });
  }
  return out;
}
