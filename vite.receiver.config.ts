/**
 * Builds the receiver app (src/receiver) into dist/receiver, served by the server under /receiver/
 * (assets, service worker, version.json) and at /m/:id (index.html).
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const build = process.env.SEALPOST_RECEIVER_BUILD ?? 'dev';
const version = process.env.SEALPOST_RECEIVER_VERSION ?? '0.0.0';

/**
 * Which lazy half of the crypto worker a module belongs to. Both are loaded only when a message or
 * a key needs them (DESIGN: first load ≤ 350 KB gzip); everything else of core is in the worker.
 */
function half(id: string): string | undefined {
  const p = id.split('\\').join('/');
  if (/\/node_modules\/openpgp\//.test(p) || /\/src\/core\/openpgp\//.test(p)) return 'openpgp';
  if (
    /\/node_modules\/(pkijs|asn1js|pvtsutils|pvutils|bytestreamjs|@noble|node-forge)\//.test(p) ||
    /\/src\/core\/smime\//.test(p)
  )
    return 'smime';
  return undefined;
}

export default defineConfig({
  root: resolve(import.meta.dirname, 'src/receiver'),
  base: '/receiver/',
  publicDir: false,
  logLevel: 'warn',
  define: {
    __SEALPOST_BUILD__: JSON.stringify(build),
    __SEALPOST_VERSION__: JSON.stringify(version),
  },
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  worker: {
    format: 'es',
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        // A chunk holding either half's code is named after it, so the budget test and the
        // network log can tell what was loaded.
        chunkFileNames: (chunk: { name: string; moduleIds: string[] }) => {
          const halves = new Set(chunk.moduleIds.map(half).filter(Boolean));
          return halves.size === 1 ? `assets/${[...halves][0]}-[name]-[hash].js` : 'assets/[name]-[hash].js';
        },
      },
    },
  },
  build: {
    outDir: process.env.SEALPOST_RECEIVER_OUT ?? resolve(import.meta.dirname, 'dist/receiver'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2048,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'src/receiver/index.html'),
        sw: resolve(import.meta.dirname, 'src/receiver/sw.ts'),
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
});
