/**
 * Builds the receiver app (src/receiver) into dist/receiver, served by the server under /receiver/
 * (assets, service worker, version.json) and at /m/:id (index.html).
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const build = process.env.SEALPOST_RECEIVER_BUILD ?? 'dev';
const version = process.env.SEALPOST_RECEIVER_VERSION ?? '0.0.0';

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
      output: { entryFileNames: 'assets/[name]-[hash].js', chunkFileNames: 'assets/[name]-[hash].js' },
    },
  },
  build: {
    outDir: resolve(import.meta.dirname, 'dist/receiver'),
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
