/**
 * The recipient's keys and trusted authorities: list, import, export, delete, generate and publish.
 */
import { useEffect, useState } from 'preact/hooks';
import type { CertificateInfo, GenerateKind, KeyEntry } from '../core/index.ts';
import { publishKey } from './api.ts';
import { CryptoError, type CryptoClient } from './crypto-client.ts';
import { KeystoreError, type Keystore, type ListedEntry } from './keystore.ts';
import { CertificateDetails } from './signature.tsx';
import { explainKeyError } from './words.ts';

const TYPE_NAMES: Record<KeyEntry['type'], string> = {
  'smime-private': 'S/MIME key and certificate',
  'openpgp-private': 'OpenPGP secret key',
  certificate: 'Certificate',
  'openpgp-public': 'OpenPGP public key',
};

function download(name: string, data: Uint8Array | string, type: string): void {
  const blob = new Blob([typeof data === 'string' ? data : data.slice()], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function pem(der: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < der.length; i += 0x8000) binary += String.fromCharCode(...der.subarray(i, i + 0x8000));
  const b64 = btoa(binary).replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

function errorText(e: unknown): string {
  if (e instanceof CryptoError) {
    const x = explainKeyError(e.code, e.message, e.details);
    return `${x.text} ${x.next}`;
  }
  if (e instanceof KeystoreError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

export interface KeysPageProps {
  crypto: CryptoClient;
  keystore: Keystore;
  /** The delivery this page was opened from (to publish a key for its recipient), if any. */
  delivery: { id: string; secret: string; recipient: string | null } | null;
  revision: number;
  onChanged: () => void;
}

export function KeysPage(props: KeysPageProps) {
  const { crypto, keystore } = props;
  const [entries, setEntries] = useState<ListedEntry[]>([]);
  const [exists, setExists] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [details, setDetails] = useState<{ label: string; info: CertificateInfo } | null>(null);

  const refresh = async (): Promise<void> => {
    setEntries(await keystore.list());
    setExists(await keystore.exists());
  };
  useEffect(() => {
    void refresh();
  }, [props.revision]);

  const run = async (what: () => Promise<string | void>): Promise<void> => {
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      const done = await what();
      if (done) setStatus(done);
      await refresh();
      props.onChanged();
    } catch (e) {
      setError(errorText(e));
      // The keyring may have changed in another tab (created there): show what is there now.
      await refresh().catch(() => undefined);
    } finally {
      setBusy(false);
    }
  };

  const formValue = (form: HTMLFormElement, name: string): string =>
    (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '';

  const onUnlock = (ev: Event): void => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    void run(async () => {
      const passphrase = formValue(form, 'passphrase');
      if (exists) await keystore.unlock(passphrase);
      else await keystore.create(passphrase);
      return exists ? 'Keyring unlocked.' : 'Keyring created and unlocked.';
    });
  };

  const onImport = (ev: Event): void => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    void run(async () => {
      const chosen = [...((form.elements.namedItem('keyfile') as HTMLInputElement).files ?? [])];
      if (chosen.length === 0) throw new Error('Choose a key file first.');
      const trusted = (form.elements.namedItem('trusted') as HTMLInputElement).checked;
      const passphrase = formValue(form, 'passphrase');
      const imported = await crypto.importKeys(
        await Promise.all(chosen.map(async (f) => new Uint8Array(await f.arrayBuffer()))),
        passphrase || undefined,
        trusted,
        await keystore.certificates(),
      );
      if (
        imported.some((e) => e.type === 'smime-private' || e.type === 'openpgp-private') &&
        !keystore.unlocked
      ) {
        if (!(await keystore.exists())) await keystore.create(passphrase);
        else
          throw new KeystoreError(
            'locked',
            'Unlock the keyring first: private keys are stored encrypted with its passphrase.',
          );
      }
      await keystore.add(imported);
      form.reset();
      return `Imported ${imported.length} ${imported.length === 1 ? 'item' : 'items'} from ${chosen.map((f) => f.name).join(', ')}.`;
    });
  };

  const onExport = (item: ListedEntry) => (ev: Event) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    void run(async () => {
      const entry = await keystore.entry(item.type, item.id);
      if (!entry) throw new KeystoreError('locked', 'Unlock the keyring to export this key.');
      const passphrase = formValue(form, 'export-passphrase');
      if (passphrase.length < 8) throw new Error('Choose an export password of at least 8 characters.');
      const out = await crypto.exportKey(entry, passphrase);
      const base = item.label.replace(/[^\p{L}\p{N}@._-]+/gu, '_').slice(0, 60);
      if (out.kind === 'pkcs12') download(`${base}.p12`, out.data, 'application/x-pkcs12');
      else download(`${base}.asc`, out.data, 'application/pgp-keys');
      return 'Exported. Keep the file and its password safe.';
    });
  };

  const onExportPublic = (item: ListedEntry) => {
    void run(async () => {
      const entry = await keystore.entry(item.type, item.id);
      if (!entry) throw new KeystoreError('locked', 'Unlock the keyring first.');
      if (entry.type === 'certificate' || entry.type === 'smime-private')
        download(`${item.label.slice(0, 40)}.pem`, pem(entry.certificate), 'application/x-pem-file');
      else if (entry.type === 'openpgp-public')
        download(`${item.label.slice(0, 40)}.asc`, entry.armored, 'application/pgp-keys');
    });
  };

  /** Publishes the public part of one of the recipient's own keys for the delivery's address. */
  const onPublish = (item: ListedEntry) => {
    void run(async () => {
      if (!props.delivery) throw new Error('Open this page from a message link to publish a key.');
      const entry = await keystore.entry(item.type, item.id);
      if (!entry) throw new KeystoreError('locked', 'Unlock the keyring first.');
      const key =
        entry.type === 'smime-private' || entry.type === 'certificate'
          ? { kind: 'x509' as const, data: pem(entry.certificate) }
          : entry.type === 'openpgp-public'
            ? { kind: 'openpgp' as const, data: entry.armored }
            : null;
      if (!key)
        throw new Error('Publish the public key (listed under your keys) rather than the secret key.');
      const r = await publishKey(props.delivery.id, props.delivery.secret, key);
      return `Published ${item.label} for ${r.email}: senders can now find it and encrypt to you.`;
    });
  };

  /** The recipient's own keys: an S/MIME identity, or the public half of an own OpenPGP key. */
  const publishable = (item: ListedEntry): boolean =>
    (item.type === 'smime-private' && !item.locked) ||
    (item.type === 'openpgp-public' && entries.some((e) => e.type === 'openpgp-private' && e.id === item.id));

  const onDetails = (item: ListedEntry) => {
    void run(async () => {
      const entry = await keystore.entry(item.type, item.id);
      if (!entry) throw new KeystoreError('locked', 'Unlock the keyring first.');
      if (entry.type !== 'certificate' && entry.type !== 'smime-private') return;
      setDetails({ label: item.label, info: await crypto.describeCertificate(entry.certificate) });
    });
  };

  const onDelete = (item: ListedEntry) => {
    if (!window.confirm(`Delete “${item.label}” from this browser? This cannot be undone.`)) return;
    void run(async () => {
      await keystore.remove(item.type, item.id);
      if (item.source === 'server') {
        // Keep it out when the server's list is installed again at the next start.
        const key = 'sealpost:dismissed-anchors';
        const dismissed = JSON.parse(localStorage.getItem(key) ?? '[]') as string[];
        localStorage.setItem(key, JSON.stringify([...new Set([...dismissed, item.id])]));
      }
      return `Deleted ${item.label}.`;
    });
  };

  const onGenerate = (ev: Event): void => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    void run(async () => {
      if (!keystore.unlocked) throw new KeystoreError('locked', 'Unlock or create the keyring first.');
      const kind = formValue(form, 'kind') as GenerateKind;
      const email = formValue(form, 'email').trim();
      const name = formValue(form, 'name').trim();
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error('Type a valid e-mail address.');
      const generated = await crypto.generate(kind, name, email);
      await keystore.add(generated);
      let published = '';
      if (props.delivery && (form.elements.namedItem('publish') as HTMLInputElement).checked) {
        // The first S/MIME identity is the one to encrypt to (post-quantum: the ML-KEM certificate).
        const priv = generated.find((e) => e.type === 'smime-private' || e.type === 'openpgp-public');
        if (priv?.type === 'smime-private')
          await publishKey(props.delivery.id, props.delivery.secret, {
            kind: 'x509',
            data: pem(priv.certificate),
          });
        else if (priv?.type === 'openpgp-public')
          await publishKey(props.delivery.id, props.delivery.secret, { kind: 'openpgp', data: priv.armored });
        published = ' Its public part is published, so senders can encrypt to you.';
      }
      const what = {
        openpgp: 'OpenPGP key',
        smime: 'S/MIME key',
        'smime-pq': 'post-quantum S/MIME key pair (ML-KEM-768 for encryption, ML-DSA-65 for signing)',
      }[kind];
      return `Generated a new ${what} for ${email}.${published}`;
    });
  };

  const privateKeys = entries.filter((e) => e.type === 'smime-private' || e.type === 'openpgp-private');
  const others = entries.filter(
    (e) => (e.type === 'certificate' && !e.trusted) || (e.type === 'openpgp-public' && !e.trusted),
  );
  const trusted = entries.filter(
    (e) => (e.type === 'certificate' || e.type === 'openpgp-public') && e.trusted,
  );

  return (
    <div class="keys-page">
      <h1>Your keys</h1>
      {status && (
        <p class="form-status" role="status">
          {status}
        </p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {!keystore.unlocked && (
        <form class="card" onSubmit={onUnlock}>
          <h2>{exists ? 'Unlock your keyring' : 'Create a keyring'}</h2>
          <p>
            {exists
              ? 'Your private keys are stored in this browser, encrypted with your passphrase.'
              : 'Choose a passphrase that protects the keys you keep in this browser (at least 8 characters).'}
          </p>
          <label for="keys-passphrase">Passphrase</label>
          <input
            id="keys-passphrase"
            name="passphrase"
            type="password"
            required
            minLength={8}
            autocomplete={exists ? 'current-password' : 'new-password'}
          />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              {exists ? 'Unlock' : 'Create keyring'}
            </button>
          </div>
        </form>
      )}
      {keystore.unlocked && (
        <p class="buttons">
          <button
            type="button"
            onClick={() => {
              keystore.lock();
              void refresh();
              props.onChanged();
            }}
          >
            Lock keyring
          </button>
        </p>
      )}

      {details && (
        <dialog open class="cert-dialog" aria-labelledby="key-cert-title">
          <h2 id="key-cert-title">Certificate of {details.label}</h2>
          <CertificateDetails cert={details.info} />
          <button type="button" onClick={() => setDetails(null)}>
            Close
          </button>
        </dialog>
      )}

      <section aria-labelledby="my-keys">
        <h2 id="my-keys">Private keys</h2>
        <EntryList
          items={privateKeys}
          empty="No private keys yet. Import one below, or generate a new key pair."
          onDelete={onDelete}
          onExport={onExport}
          {...(props.delivery ? { onPublish, publishable } : {})}
          onExportPublic={onExportPublic}
          onDetails={onDetails}
          unlocked={keystore.unlocked}
        />
      </section>

      <section aria-labelledby="trusted">
        <h2 id="trusted">Trusted authorities and signers</h2>
        <p>
          Signatures verify as trusted only when the signer chains to one of these certificates, or is one of
          these OpenPGP keys.
        </p>
        <EntryList
          items={trusted}
          empty="None."
          onDelete={onDelete}
          {...(props.delivery ? { onPublish, publishable } : {})}
          onExportPublic={onExportPublic}
          onDetails={onDetails}
          unlocked={keystore.unlocked}
        />
      </section>

      <section aria-labelledby="others">
        <h2 id="others">Other people’s certificates and keys</h2>
        <EntryList
          items={others}
          empty="None."
          onDelete={onDelete}
          onExportPublic={onExportPublic}
          onDetails={onDetails}
          unlocked={keystore.unlocked}
        />
      </section>

      <form class="card" onSubmit={onImport}>
        <h2>Import</h2>
        <p>
          A PKCS#12 file (.p12, .pfx — including older Windows exports), an OpenPGP key, a certificate (PEM or
          DER), or a PKCS#8 private key (PEM or DER; RSA, EC, X25519/X448, Ed25519/Ed448, ML-KEM, ML-DSA,
          SLH-DSA) — choose its certificate together with it, or import the certificate first.
        </p>
        <label for="import-file">Key file</label>
        <input id="import-file" name="keyfile" type="file" multiple required />
        <label for="import-passphrase">Passphrase</label>
        <input id="import-passphrase" name="passphrase" type="password" autocomplete="off" />
        <label class="checkbox">
          <input type="checkbox" name="trusted" /> Trust this certificate or public key (as an authority or a
          known signer)
        </label>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Import key
          </button>
        </div>
      </form>

      <form class="card" onSubmit={onGenerate}>
        <h2>Generate a new key pair</h2>
        <label for="gen-kind">Kind</label>
        <select id="gen-kind" name="kind">
          <option value="openpgp">OpenPGP (Ed25519/Curve25519)</option>
          <option value="smime">S/MIME (RSA 2048, self-signed certificate)</option>
          <option value="smime-pq">
            S/MIME post-quantum (ML-KEM-768 for encryption, ML-DSA-65 for signing; certificates)
          </option>
        </select>
        <label for="gen-name">Name</label>
        <input id="gen-name" name="name" type="text" autocomplete="name" />
        <label for="gen-email">E-mail address</label>
        <input
          id="gen-email"
          name="email"
          type="email"
          required
          defaultValue={props.delivery?.recipient ?? ''}
        />
        {props.delivery && (
          <label class="checkbox">
            <input type="checkbox" name="publish" defaultChecked /> Publish the public part to this server, so
            senders can encrypt to
            {` ${props.delivery.recipient ?? 'me'}`}
          </label>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Generate key pair
          </button>
        </div>
      </form>
    </div>
  );
}

function EntryList(props: {
  items: ListedEntry[];
  empty: string;
  unlocked: boolean;
  onDelete: (e: ListedEntry) => void;
  onExport?: (e: ListedEntry) => (ev: Event) => void;
  onExportPublic: (e: ListedEntry) => void;
  onDetails: (e: ListedEntry) => void;
  /** Publish to this server's directory (only when the page was opened from a delivery). */
  onPublish?: (e: ListedEntry) => void;
  publishable?: (e: ListedEntry) => boolean;
}) {
  if (props.items.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <ul class="entries">
      {props.items.map((item) => (
        <li key={`${item.type}:${item.id}`} class="entry">
          <div>
            <span class="entry-label">{item.label}</span>
            <span class="entry-meta">
              {TYPE_NAMES[item.type]}
              {item.source === 'server' ? ' · provided by this server' : ''}
              {item.locked ? ' · locked' : ''}
            </span>
            <code class="entry-id">{item.id.slice(0, 16)}…</code>
          </div>
          <div class="entry-actions">
            {props.onExport && props.unlocked && (
              <form onSubmit={props.onExport(item)} class="inline-form">
                <label for={`export-${item.id}`}>Export password</label>
                <input
                  id={`export-${item.id}`}
                  name="export-passphrase"
                  type="password"
                  minLength={8}
                  required
                />
                <button type="submit">Export</button>
              </form>
            )}
            {(item.type === 'certificate' || (item.type === 'smime-private' && !item.locked)) && (
              <button type="button" onClick={() => props.onDetails(item)}>
                Certificate
              </button>
            )}
            {(!item.locked || item.type === 'certificate' || item.type === 'openpgp-public') && (
              <button type="button" onClick={() => props.onExportPublic(item)}>
                Save public part
              </button>
            )}
            {props.onPublish && props.publishable?.(item) && (
              <button type="button" onClick={() => props.onPublish?.(item)}>
                Publish
              </button>
            )}
            <button type="button" class="danger" onClick={() => props.onDelete(item)}>
              Delete
            </button>
          </div>
        </li>
      ))}
    </ul>
  );
}
