/**
 * The receiver's service worker: caches the app so it starts fast and installs as an app; the page
 * (updates.ts) checks /receiver/version.json at each start and asks for an update when the server
 * has a newer build. Only the receiver's own pages and assets are touched; API calls pass through
 * untouched (and are never cached: messages are fetched with no-store).
 */
interface SwScope {
  addEventListener(type: 'install', fn: (ev: ExtendableEvent) => void): void;
  addEventListener(type: 'activate', fn: (ev: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (ev: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
}
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(r: Response | Promise<Response>): void;
}

const sw = globalThis as unknown as SwScope;
const CACHE = `sealpost-receiver-${__SEALPOST_BUILD__}`;
const SHELL = '/receiver/shell';

sw.addEventListener('install', (ev) => {
  ev.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const res = await fetch('/receiver/version.json', { cache: 'no-store' });
        // Only what every start needs; the OpenPGP and S/MIME halves are cached when first used.
        const info = (await res.json()) as { assets?: string[]; firstLoad?: string[] };
        await cache.addAll(info.firstLoad ?? info.assets ?? []);
      } catch {
        /* offline at install: assets are cached as they are used */
      }
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (ev) => {
  ev.waitUntil(
    (async () => {
      for (const name of await caches.keys())
        if (name.startsWith('sealpost-receiver-') && name !== CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== globalThis.location.origin) return;
  if (req.mode === 'navigate' && (url.pathname.startsWith('/m/') || url.pathname === '/receiver/')) {
    // Network first: the server's page carries its current trust list; offline, the cached shell.
    ev.respondWith(
      fetch(req).then(
        async (res) => {
          if (res.ok) await (await caches.open(CACHE)).put(SHELL, res.clone());
          return res;
        },
        async () => (await caches.match(SHELL)) ?? Response.error(),
      ),
    );
    return;
  }
  if (url.pathname.startsWith('/receiver/assets/')) {
    // Content-hashed: a cached copy is always the right one.
    ev.respondWith(
      caches.match(req).then(
        (hit) =>
          hit ??
          fetch(req).then(async (res) => {
            if (res.ok) await (await caches.open(CACHE)).put(req, res.clone());
            return res;
          }),
      ),
    );
  }
});
