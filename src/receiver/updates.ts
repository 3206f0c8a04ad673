/**
 * The installed receiver keeps itself current: a service worker caches the app, and at each start
 * the app asks the server for /receiver/version.json. When the server has another build, the
 * service worker is updated and the page reloads once into the new version.
 */
import { fetchVersion } from './api.ts';

export type UpdateState = { kind: 'current' } | { kind: 'updating'; version: string };

export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!('serviceWorker' in navigator)) return null;
  try {
    return await navigator.serviceWorker.register('/receiver/sw.js', { scope: '/', type: 'module' });
  } catch {
    return null;
  }
}

export async function checkForUpdate(report: (s: UpdateState) => void): Promise<void> {
  const registration = await registerServiceWorker();
  const latest = await fetchVersion();
  if (!latest || latest.build === __SEALPOST_BUILD__) return;
  const reloadedFor = sessionStorage.getItem('sealpost:updated-to');
  if (reloadedFor === latest.build) return; // one reload per new build, never a loop
  report({ kind: 'updating', version: latest.version });
  sessionStorage.setItem('sealpost:updated-to', latest.build);
  try {
    await registration?.update();
    const caches_ = globalThis.caches;
    if (caches_)
      for (const name of await caches_.keys())
        if (name.startsWith('sealpost-receiver-')) await caches_.delete(name);
  } finally {
    window.location.reload();
  }
}
