/**
 * The receiver app: a message opened from its link (/m/<id>#<secret>), the keys page, the version.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { KeyEntry } from '../core/index.ts';
import { CryptoClient } from './crypto-client.ts';
import { KeysPage } from './keys-page.tsx';
import { chooseSecret } from './link.ts';
import { Keystore } from './keystore.ts';
import { MessageView } from './message-view.tsx';
import { checkForUpdate, type UpdateState } from './updates.ts';

export interface ReceiverConfig {
  /** PEM certificates the server's operator trusts (from `sealpost serve --trust-anchors`). */
  trustAnchors: string[];
  /** The subject of each trust anchor, for the keys page (same order). */
  trustAnchorSubjects?: string[];
  brand?: { name?: string };
}

export interface Location {
  deliveryId: string | null;
  secret: string | null;
}

/** Reads the delivery id from the path and the secret from the fragment, then hides the fragment. */
export function readLocation(): Location {
  const m = /^\/m\/([A-Za-z0-9_-]{8,128})\/?$/.exec(window.location.pathname);
  const deliveryId = m ? m[1]! : null;
  if (!deliveryId) return { deliveryId: null, secret: null };
  const storageKey = `sealpost:secret:${deliveryId}`;
  const choice = chooseSecret(window.location.hash, sessionStorage.getItem(storageKey));
  // Keep the secret for reloads of this tab only, and take it out of the address bar (screens,
  // bookmarks, history): it is never sent anywhere but in the pickup requests' header.
  if (choice.keep && choice.secret) sessionStorage.setItem(storageKey, choice.secret);
  if (choice.clearFragment) history.replaceState(null, '', window.location.pathname);
  return { deliveryId, secret: choice.secret };
}

/** DER bytes of each PEM certificate block in `pem`. */
export function pemCertificates(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    const bin = atob(m[1]!.replace(/[^A-Za-z0-9+/=]/g, ''));
    out.push(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }
  return out;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes.slice()));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Adds the server's trust anchors to the keyring as trusted certificates. They are taken as they
 * come (DER from the PEM, the SHA-256 fingerprint as id, the subject the server names): parsing
 * them would load the S/MIME half of core at every start, which only S/MIME messages need.
 */
async function installServerTrust(keystore: Keystore, config: ReceiverConfig): Promise<void> {
  const dismissed = new Set(
    JSON.parse(localStorage.getItem('sealpost:dismissed-anchors') ?? '[]') as string[],
  );
  const listed = await keystore.list();
  const known = new Set(listed.map((e) => `${e.type}:${e.id}`));
  const current = new Set<string>();
  const fresh: KeyEntry[] = [];
  for (const [i, p] of config.trustAnchors.entries()) {
    for (const der of pemCertificates(p)) {
      const id = await sha256Hex(der);
      current.add(id);
      if (known.has(`certificate:${id}`) || dismissed.has(id)) continue;
      const subject = config.trustAnchorSubjects?.[i];
      fresh.push({
        type: 'certificate',
        id,
        label: subject || `Certificate authority ${id.slice(0, 16)}`,
        certificate: der,
        trusted: true,
      });
    }
  }
  if (fresh.length) await keystore.add(fresh, 'server');
  // The server's list is authoritative for what it provided: an anchor it no longer lists goes.
  for (const e of listed)
    if (e.source === 'server' && e.type === 'certificate' && !current.has(e.id))
      await keystore.remove(e.type, e.id);
}

export function App({ config }: { config: ReceiverConfig }) {
  const location = useMemo(readLocation, []);
  const crypto = useMemo(() => new CryptoClient(), []);
  const keystore = useMemo(() => new Keystore(), []);
  const [tab, setTab] = useState<'message' | 'keys'>(location.deliveryId ? 'message' : 'keys');
  const [ready, setReady] = useState(false);
  const [revision, setRevision] = useState(0);
  const [sessionEntries, setSessionEntries] = useState<KeyEntry[]>([]);
  const [update, setUpdate] = useState<UpdateState>({ kind: 'current' });
  const [recipient, setRecipient] = useState<string | null>(null);

  useEffect(() => {
    installServerTrust(keystore, config)
      .catch(() => undefined)
      .finally(() => setReady(true));
    void checkForUpdate(setUpdate);
  }, []);

  const appName = config.brand?.name ?? 'Sealpost';
  const delivery =
    location.deliveryId && location.secret
      ? { id: location.deliveryId, secret: location.secret, recipient }
      : null;

  return (
    <div class="app">
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          // Focus the content without putting "#main" in the address bar (it is where the link's
          // secret travels; link.ts ignores such a fragment anyway).
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">{appName} secure message</span>
        <nav aria-label="Sections">
          {location.deliveryId && (
            <button
              type="button"
              aria-current={tab === 'message' ? 'page' : undefined}
              onClick={() => setTab('message')}
            >
              Message
            </button>
          )}
          <button
            type="button"
            aria-current={tab === 'keys' ? 'page' : undefined}
            onClick={() => setTab('keys')}
          >
            Keys
          </button>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {!ready ? (
          <p class="progress-text">Starting…</p>
        ) : tab === 'message' && location.deliveryId ? (
          location.secret ? (
            <MessageView
              id={location.deliveryId}
              secret={location.secret}
              crypto={crypto}
              keystore={keystore}
              sessionEntries={sessionEntries}
              onSessionEntries={(e) => setSessionEntries((old) => [...old, ...e])}
              onKeystoreChanged={() => setRevision((r) => r + 1)}
              onMetadata={(m) => setRecipient(m.recipient)}
            />
          ) : (
            <div class="problem" role="alert">
              <h1>This link is incomplete</h1>
              <p>The part of the link after “#” is missing; it is what opens the message.</p>
              <p class="next">Open the link again from the notification e-mail, copying all of it.</p>
            </div>
          )
        ) : (
          <KeysPage
            crypto={crypto}
            keystore={keystore}
            delivery={delivery}
            revision={revision}
            onChanged={() => setRevision((r) => r + 1)}
          />
        )}
        {!location.deliveryId && (
          <p class="hint">To read a secure message, open the link from your notification e-mail.</p>
        )}
      </main>
      <footer class="footer">
        <span>
          Decrypted in your browser; your keys never leave it. Receiver version{' '}
          <span data-testid="version">{__SEALPOST_VERSION__}</span> (build {__SEALPOST_BUILD__.slice(0, 12)})
        </span>
        {update.kind === 'updating' && <span role="status"> Updating to version {update.version}…</span>}
      </footer>
    </div>
  );
}
