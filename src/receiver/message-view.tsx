/**
 * Opening one delivered message: metadata → download (with progress) streamed into the crypto
 * worker → ask for a key or a password when needed → show the message → post the receipt.
 * Nothing of a layer is shown before core has established that layer's integrity.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  base64Encode,
  wkdUrls,
  type KeyEntry,
  type OpenPgpPublicEntry,
  type OpenedMessage,
} from '../core/index.ts';
import {
  ApiError,
  fetchMetadata,
  fetchWkd,
  lookUpDirectory,
  postReceipt,
  streamContent,
  type PickupMetadata,
} from './api.ts';
import { Attachments } from './attachments.tsx';
import { CryptoError, type CryptoClient } from './crypto-client.ts';
import { HtmlBody } from './html-body.tsx';
import { KeystoreError, type Keystore } from './keystore.ts';
import {
  HUMAN_EVENTS,
  awaitsHumanAction,
  receiptForError,
  receiptForShown,
  type Receipt,
} from './receipt.ts';
import { SignaturePanel, groupHex, plainAlgorithm } from './signature.tsx';
import {
  explainKeyError,
  explainOpenError,
  explainPickupError,
  formatBytes,
  formatDate,
  type Explained,
} from './words.ts';

type Phase =
  | { kind: 'loading' }
  | { kind: 'pickup-error'; explained: Explained }
  | { kind: 'downloading'; done: number; total: number }
  | { kind: 'processing' }
  | { kind: 'need-key'; explained: Explained }
  | { kind: 'need-password'; explained: Explained; preSharedKey: boolean }
  | { kind: 'error'; explained: Explained }
  | { kind: 'shown'; report: OpenedMessage };

/** A signer's key found by looking the From address up, not trusted yet. */
interface FoundKey {
  entry: OpenPgpPublicEntry;
  address: string;
  where: string;
}

/** A signature by another key than the one the recipient trusted for the From address. */
export interface KeyChange {
  address: string;
  trusted: string;
  signer: string;
}

/** Compares the signer's key with the key pinned for the From address (pinning, docs/receiver.md). */
async function keyChangeOf(keystore: Keystore, report: OpenedMessage): Promise<KeyChange | null> {
  const s = report.signature;
  const signer = s.openpgpKey?.fingerprint;
  if (!signer || !report.from || (s.status !== 'valid' && s.status !== 'untrusted')) return null;
  const pin = await keystore.pinFor(report.from).catch(() => null);
  if (!pin || pin.fingerprint === signer) return null;
  return { address: pin.address, trusted: pin.fingerprint, signer };
}

/** What the signature panel offers about an unknown or untrusted OpenPGP signer. */
export interface SignerActions {
  /** Look the From address's key up (status unknown-signer). */
  lookUp?: () => void;
  /** The key found, and trusting it for the address (status untrusted, made by that key). */
  found?: FoundKey & { trust: () => void };
  /** What the lookup found or did not find, in words. */
  note?: string;
}
export interface MessageViewProps {
  id: string;
  secret: string;
  crypto: CryptoClient;
  keystore: Keystore;
  /** Keys the recipient imported without keeping them: used for this page session only. */
  sessionEntries: KeyEntry[];
  onSessionEntries: (entries: KeyEntry[]) => void;
  onKeystoreChanged: () => void;
  /** Called once the delivery's metadata arrived (the app shows the recipient on the keys page). */
  onMetadata?: (meta: PickupMetadata) => void;
}

export function MessageView(props: MessageViewProps) {
  const { id, secret, crypto, keystore } = props;
  const [meta, setMeta] = useState<PickupMetadata | null>(null);
  const metaRef = useRef<PickupMetadata | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  const downloaded = useRef(false);
  const receiptSent = useRef(false);
  const [found, setFound] = useState<FoundKey | null>(null);
  const [lookupNote, setLookupNote] = useState<string | null>(null);
  /** The key the recipient trusted for this message's From address, when it is not the signer's. */
  const [keyChange, setKeyChange] = useState<KeyChange | null>(null);

  /** Tells the server how it went: 'processed' once the message is shown, or 'failed' for good. */
  const sendReceipt = (details: Receipt) => {
    if (receiptSent.current) return;
    receiptSent.current = true;
    postReceipt(id, secret, details).catch(() => {
      receiptSent.current = false;
    });
  };

  /** Sends `details` at the first thing a person does on the page (receipt.ts says why). */
  const sendOnHumanAction = (details: Receipt) => {
    const act = (ev: Event) => {
      if (!ev.isTrusted) return;
      for (const t of HUMAN_EVENTS) window.removeEventListener(t, act, true);
      sendReceipt(details);
    };
    for (const t of HUMAN_EVENTS) window.addEventListener(t, act, { capture: true, passive: true });
  };

  /**
   * Opens the message with the keyring's, this session's and `extra` keys. `quiet`: a trial of a key
   * from the prompt, which stays on screen meanwhile (the message is downloaded by then).
   */
  const openWith = async (
    password?: string,
    extra: KeyEntry[] = [],
    quiet = false,
  ): Promise<OpenedMessage> => {
    const m = metaRef.current ?? (await fetchMetadata(id, secret));
    const entries = [...(await keystore.entries()), ...props.sessionEntries, ...extra];
    if (!(quiet && downloaded.current))
      setPhase(downloaded.current ? { kind: 'processing' } : { kind: 'downloading', done: 0, total: m.size });
    // The worker keeps the downloaded message: a retry with another key or password reuses it.
    return downloaded.current
      ? await crypto.openAgain(entries, password, () => undefined)
      : await crypto.open(
          entries,
          password,
          m.size,
          async (push) => {
            let done = 0;
            await streamContent(id, secret, (c) => {
              done += c.length;
              push(c);
              setPhase({ kind: 'downloading', done, total: Math.max(m.size, done) });
            });
            downloaded.current = true;
            setPhase({ kind: 'processing' });
          },
          () => undefined,
        );
  };

  const show = async (report: OpenedMessage): Promise<void> => {
    setKeyChange(await keyChangeOf(keystore, report));
    setPhase({ kind: 'shown', report });
    // Content under an invalid signature is withheld: the message was not delivered intact.
    const receipt = receiptForShown(report);
    if (awaitsHumanAction(report, receipt)) sendOnHumanAction(receipt);
    else sendReceipt(receipt);
  };

  /** `password`: what the recipient typed, if this attempt was theirs. */
  const fail = (e: unknown, password?: string): void => {
    if (e instanceof ApiError) {
      setPhase({ kind: 'pickup-error', explained: explainPickupError(e.status, e.code, e.message) });
      return;
    }
    const err =
      e instanceof CryptoError ? e : new CryptoError({ code: 'internal', message: String(e), details: {} });
    // A password was typed and does not fit: say so (S/MIME PWRI reports only that one is needed).
    const typed = err.code === 'bad-password' && password !== undefined && !err.details.preSharedKey;
    const explained = explainOpenError(
      err.code,
      err.message,
      typed ? { ...err.details, passwordRequired: false } : err.details,
    );
    if (err.code === 'no-matching-key') setPhase({ kind: 'need-key', explained });
    else if (err.code === 'bad-password')
      setPhase({ kind: 'need-password', explained, preSharedKey: err.details.preSharedKey === true });
    else {
      setPhase({ kind: 'error', explained });
      const receipt = receiptForError(err.code);
      if (receipt) sendReceipt(receipt);
    }
  };

  const attempt = async (password?: string, extra: KeyEntry[] = []): Promise<void> => {
    try {
      await show(await openWith(password, extra));
    } catch (e) {
      fail(e, password);
    }
  };

  /**
   * Looks the sender's OpenPGP key up — this server's directory, then the Web Key Directory of the
   * sender's domain, fetched from this browser — and opens the message again with it (not trusted):
   * the signature then says whether that key made it, and shows its fingerprint.
   */
  const lookUpSigner = async (address: string): Promise<void> => {
    setLookupNote(null);
    let candidate: FoundKey | null = null;
    const listed = await lookUpDirectory(address).catch(() => null);
    const key = listed?.entries.find((e) => e.kind === 'openpgp');
    if (key)
      candidate = {
        entry: {
          type: 'openpgp-public',
          id: key.fingerprint,
          label: address,
          armored: key.data,
          trusted: false,
        },
        address,
        where: 'this server’s directory',
      };
    const urls = key ? null : wkdUrls(address);
    const wkd = urls ? await fetchWkd([urls.advanced, urls.direct]) : null;
    if (wkd && urls)
      candidate = {
        // The fingerprint is known once the signature is checked with it (see signerActions).
        entry: {
          type: 'openpgp-public',
          id: `wkd-${urls.hash}`,
          label: address,
          armored: armor(wkd.key),
          trusted: false,
        },
        address,
        where: `the Web Key Directory of ${urls.domain} (${new URL(wkd.url).host})`,
      };
    if (!candidate) {
      setLookupNote(
        `No OpenPGP key is published for ${address} on this server or in the Web Key Directory of its domain.`,
      );
      return;
    }
    setFound(candidate);
    await attempt(undefined, [candidate.entry]);
  };

  /** The one explicit step: the found key becomes a trusted signer for its address, kept in the keyring. */
  const trustFound = async (f: FoundKey): Promise<void> => {
    await keystore.add([{ ...f.entry, trusted: true }]);
    await keystore.pin(f.address, f.entry.id);
    props.onKeystoreChanged();
    setFound(null);
    setLookupNote(null);
    await attempt();
  };

  const signerActions = (report: OpenedMessage): SignerActions => {
    const s = report.signature;
    const pgp = report.protocol === 'pgp-mime' || report.protocol === 'openpgp-inline';
    if (!pgp || !report.from) return {};
    if (s.status === 'unknown-signer')
      return {
        ...(found ? {} : { lookUp: () => void lookUpSigner(report.from.toLowerCase()) }),
        ...(lookupNote
          ? { note: lookupNote }
          : found
            ? {
                note: `The key published for ${found.address} in ${found.where} did not make this signature.`,
              }
            : {}),
      };
    // The found key was the only one added since the signer was unknown: if the signature is now
    // good but untrusted, that key made it (a WKD key gets its fingerprint from the check).
    const fingerprint = s.openpgpKey?.fingerprint;
    if (
      s.status === 'untrusted' &&
      found &&
      fingerprint &&
      (fingerprint === found.entry.id || found.entry.id.startsWith('wkd-')) &&
      found.address === report.from.toLowerCase()
    ) {
      const f = { ...found, entry: { ...found.entry, id: fingerprint } };
      return { found: { ...f, trust: () => void trustFound(f) } };
    }
    return {};
  };

  useEffect(() => {
    let cancelled = false;
    fetchMetadata(id, secret).then(
      (m) => {
        if (cancelled) return;
        metaRef.current = m;
        setMeta(m);
        props.onMetadata?.(m);
        void attempt();
      },
      (e: unknown) => {
        if (cancelled) return;
        const a = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
        setPhase({ kind: 'pickup-error', explained: explainPickupError(a.status, a.code, a.message) });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [id, secret]);

  return (
    <article class="message" aria-busy={phase.kind === 'downloading' || phase.kind === 'processing'}>
      {meta && <Envelope meta={meta} report={phase.kind === 'shown' ? phase.report : null} />}
      {phase.kind === 'loading' && <p class="progress-text">Looking up the message…</p>}
      {phase.kind === 'downloading' && <Progress done={phase.done} total={phase.total} />}
      {phase.kind === 'processing' && <p class="progress-text">Decrypting and checking the signature…</p>}
      {(phase.kind === 'pickup-error' || phase.kind === 'error') && (
        <Problem explained={phase.explained} main={meta === null} />
      )}
      {phase.kind === 'need-key' && (
        <KeyPrompt
          explained={phase.explained}
          crypto={crypto}
          keystore={keystore}
          onReady={(extra, keep) => {
            if (!keep) props.onSessionEntries(extra);
            props.onKeystoreChanged();
            void attempt(undefined, keep ? [] : extra);
          }}
          tryEntries={(extra) => openWith(undefined, extra, true)}
          onOpened={(report, extra, kept) => {
            if (!kept) props.onSessionEntries(extra);
            props.onKeystoreChanged();
            void show(report);
          }}
          onFailed={(e) => fail(e)}
        />
      )}
      {phase.kind === 'need-password' && (
        <PasswordPrompt
          explained={phase.explained}
          preSharedKey={phase.preSharedKey}
          onSubmit={(password) => void attempt(password)}
        />
      )}
      {phase.kind === 'shown' && (
        <Shown
          report={phase.report}
          actions={signerActions(phase.report)}
          keyChange={keyChange}
          onAcceptKeyChange={() =>
            void (async () => {
              if (!keyChange) return;
              await keystore.pin(keyChange.address, keyChange.signer);
              setKeyChange(null);
            })()
          }
        />
      )}
    </article>
  );
}

function Envelope({ meta, report }: { meta: PickupMetadata; report: OpenedMessage | null }) {
  return (
    <header class="envelope">
      <h1 class="subject">{(report?.subject ?? meta.subject) || '(no subject)'}</h1>
      <dl>
        <dt>From</dt>
        {/* The message's own From once it is open: never the submitting account's address in its
            place, which no signature binds. */}
        <dd>{report ? report.from || `No sender address (submitted by ${meta.sender})` : meta.sender}</dd>
        <dt>To</dt>
        <dd>{report?.to.join(', ') || meta.recipient}</dd>
        {report?.date && (
          <>
            <dt>Date</dt>
            <dd>{formatDate(report.date)}</dd>
          </>
        )}
        <dt>Available until</dt>
        <dd>{formatDate(meta.expiresAt)}</dd>
      </dl>
    </header>
  );
}

function Progress({ done, total }: { done: number; total: number }) {
  const percent = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
  return (
    <div class="progress">
      <label for="download-progress">
        Downloading the encrypted message: {formatBytes(done)} of {formatBytes(total)} ({percent}%)
      </label>
      <progress id="download-progress" max={100} value={percent}>
        {percent}%
      </progress>
    </div>
  );
}

/** A problem; `main` when it is all the page shows (no envelope): then its title is the page's h1. */
function Problem({ explained, main = false }: { explained: Explained; main?: boolean }) {
  return (
    <div class="problem" role="alert">
      {main ? <h1>{explained.title}</h1> : <h2>{explained.title}</h2>}
      <p>{explained.text}</p>
      <p class="next">{explained.next}</p>
    </div>
  );
}

/**
 * Stores `entries` in the keyring under `passphrase` (creating the keyring, or unlocking it);
 * null when kept, else the sentence saying why not and what to type instead.
 */
async function keepIn(keystore: Keystore, entries: KeyEntry[], passphrase: string): Promise<string | null> {
  try {
    if (!(await keystore.exists())) {
      if (passphrase.length < 8)
        return passphrase === ''
          ? 'The key file has no passphrase, and the keyring in this browser needs one. Choose a keyring passphrase (at least 8 characters) to keep the key encrypted here.'
          : 'The key file’s passphrase is shorter than the 8 characters a keyring needs. Choose a keyring passphrase (at least 8 characters) to keep the key encrypted here.';
      await keystore.create(passphrase);
    } else if (!keystore.unlocked) await keystore.unlock(passphrase);
    await keystore.add(entries);
    return null;
  } catch (e) {
    if (e instanceof KeystoreError && e.code === 'bad-passphrase')
      return (await keystore.exists())
        ? 'This browser already keeps a keyring, locked with another passphrase. Type the keyring’s passphrase to keep this key in it.'
        : e.message;
    return `The key could not be kept in this browser: ${e instanceof Error ? e.message : String(e)}. You can still read the message without keeping it.`;
  }
}

function KeyPrompt(props: {
  explained: Explained;
  crypto: CryptoClient;
  keystore: Keystore;
  onReady: (entries: KeyEntry[], kept: boolean) => void;
  /** Opens the message with an imported key, without storing it or leaving the prompt. */
  tryEntries: (entries: KeyEntry[]) => Promise<OpenedMessage>;
  /** The imported key opened it (and was kept, or is used for this page only). */
  onOpened: (report: OpenedMessage, entries: KeyEntry[], kept: boolean) => void;
  /** It failed for another reason than the key (a final error). */
  onFailed: (e: unknown) => void;
}) {
  const { crypto, keystore } = props;
  /** An imported key that opened the message, waiting for a keyring passphrase to be kept. */
  const [pending, setPending] = useState<{ report: OpenedMessage; entries: KeyEntry[]; why: string } | null>(
    null,
  );
  const [canUnlock, setCanUnlock] = useState<boolean | null>(null);
  const [mode, setMode] = useState<'unlock' | 'import'>('import');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [keep, setKeep] = useState(true);

  useEffect(() => {
    void (async () => {
      const locked = !keystore.unlocked && (await keystore.hasPrivateKeys());
      setCanUnlock(locked);
      setMode(locked ? 'unlock' : 'import');
    })();
  }, []);

  const unlock = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const passphrase = (form.elements.namedItem('passphrase') as HTMLInputElement).value;
    setBusy(true);
    setError(null);
    try {
      await keystore.unlock(passphrase);
      props.onReady([], true);
    } catch (e) {
      setError(e instanceof KeystoreError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const importKey = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const chosen = [...((form.elements.namedItem('keyfile') as HTMLInputElement).files ?? [])];
    const passphrase = (form.elements.namedItem('passphrase') as HTMLInputElement).value;
    if (chosen.length === 0) {
      setError('Choose your key file first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const files = await Promise.all(chosen.map(async (f) => new Uint8Array(await f.arrayBuffer())));
      const entries = await crypto.importKeys(files, passphrase, false, await keystore.certificates());
      if (!entries.some((e) => e.type === 'smime-private' || e.type === 'openpgp-private')) {
        setError(
          'That file holds no private key. Choose the file that contains your private key (.p12, .pfx, a PKCS#8 private key with its certificate, or an OpenPGP secret key).',
        );
        return;
      }
      // Does it open this message? Only then is it worth keeping (a key for another message is not
      // stored unasked, and the prompt says why it is still here).
      let report: OpenedMessage;
      try {
        report = await props.tryEntries(entries);
      } catch (e) {
        if (e instanceof CryptoError && e.code === 'no-matching-key') {
          const x = explainOpenError(e.code, e.message, e.details);
          setError(
            `That key is valid, but it does not open this message, so it was not kept. ${x.text} Choose the key file that belongs to it; if you have none, ask the sender to encrypt the message to a key you have.`,
          );
          return;
        }
        props.onFailed(e);
        return;
      }
      if (!keep) {
        props.onOpened(report, entries, false);
        return;
      }
      const why = await keepIn(keystore, entries, passphrase);
      if (why === null) props.onOpened(report, entries, true);
      else setPending({ report, entries, why });
    } catch (e) {
      const err = e instanceof CryptoError ? e : null;
      setError(
        err
          ? explainKeyError(err.code, err.message, err.details).text +
              ' ' +
              explainKeyError(err.code, err.message, err.details).next
          : String(e),
      );
    } finally {
      setBusy(false);
    }
  };

  const keepWithKeyringPassphrase = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    if (!pending) return;
    const form = ev.currentTarget as HTMLFormElement;
    const passphrase = (form.elements.namedItem('keyring-passphrase') as HTMLInputElement).value;
    setBusy(true);
    const why = await keepIn(keystore, pending.entries, passphrase);
    setBusy(false);
    if (why === null) props.onOpened(pending.report, pending.entries, true);
    else setPending({ ...pending, why });
  };

  if (pending)
    return (
      <form class="card key-keep" onSubmit={(e) => void keepWithKeyringPassphrase(e)}>
        <h2>Keep this key in this browser?</h2>
        <p class="form-error" role="alert">
          {pending.why}
        </p>
        <label for="keyring-passphrase">Keyring passphrase</label>
        <input
          id="keyring-passphrase"
          name="keyring-passphrase"
          type="password"
          autocomplete="new-password"
          required
        />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Keep key and show the message
          </button>
          <button
            type="button"
            class="link-button"
            onClick={() => props.onOpened(pending.report, pending.entries, false)}
          >
            Show the message without keeping the key
          </button>
        </div>
      </form>
    );

  return (
    <div class="key-prompt">
      <div class="problem" role="alert">
        <h2>{props.explained.title}</h2>
        <p>{props.explained.text}</p>
        <p class="next">{props.explained.next}</p>
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {canUnlock && mode === 'unlock' ? (
        <form onSubmit={(e) => void unlock(e)} class="card">
          <h2>Unlock your keyring</h2>
          <p>Your keys are stored in this browser, encrypted with your passphrase.</p>
          <label for="unlock-passphrase">Passphrase</label>
          <input
            id="unlock-passphrase"
            name="passphrase"
            type="password"
            autocomplete="current-password"
            required
          />
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Unlock
            </button>
            <button type="button" class="link-button" onClick={() => setMode('import')}>
              Import a key file instead
            </button>
          </div>
        </form>
      ) : (
        <form onSubmit={(e) => void importKey(e)} class="card">
          <h2>Import your key</h2>
          <label for="key-file">Key file</label>
          <input
            id="key-file"
            name="keyfile"
            type="file"
            multiple
            accept=".p12,.pfx,.asc,.gpg,.pgp,.key,.pem,.der,.p8,.crt,.cer,application/x-pkcs12"
            required
          />
          <p class="hint">
            A PKCS#12 file, an OpenPGP secret key, or a PKCS#8 private key (PEM or DER) — choose its
            certificate with it.
          </p>
          <label for="key-passphrase">Passphrase</label>
          <input id="key-passphrase" name="passphrase" type="password" autocomplete="off" />
          <label class="checkbox">
            <input
              type="checkbox"
              checked={keep}
              onChange={(e) => setKeep((e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            Keep this key in this browser, encrypted with this passphrase
          </label>
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              Import key
            </button>
            {canUnlock && (
              <button type="button" class="link-button" onClick={() => setMode('unlock')}>
                Unlock my keyring instead
              </button>
            )}
          </div>
        </form>
      )}
    </div>
  );
}

function PasswordPrompt({
  explained,
  preSharedKey,
  onSubmit,
}: {
  explained: Explained;
  /** A KEKRecipientInfo: the recipient types the shared key (hex or base64), not a password. */
  preSharedKey: boolean;
  onSubmit: (password: string) => void;
}) {
  return (
    <form
      class="card"
      onSubmit={(ev) => {
        ev.preventDefault();
        const input = (ev.currentTarget as HTMLFormElement).elements.namedItem(
          'password',
        ) as HTMLInputElement;
        onSubmit(input.value);
      }}
    >
      <div class="problem" role="alert">
        <h2>{explained.title}</h2>
        <p>{explained.text}</p>
        <p class="next">{explained.next}</p>
      </div>
      <label for="message-password">{preSharedKey ? 'Pre-shared key' : 'Message password'}</label>
      <input
        id="message-password"
        name="password"
        type="password"
        autocomplete="off"
        spellcheck={false}
        required
      />
      <div class="buttons">
        <button type="submit" class="primary">
          Open message
        </button>
      </div>
    </form>
  );
}

/** How each encrypted layer was opened, in words: "ML-KEM-768 (post-quantum, HKDF-SHA256), AES-256-GCM". */
function EncryptionNote({ report }: { report: OpenedMessage }) {
  const lines = report.layers.flatMap((l) => {
    if (l.kind !== 'encrypted' || !l.openedBy) return [];
    const r = l.recipients[l.openedBy.recipient];
    return [`${r ? `${plainAlgorithm(r.algorithm)}, ` : ''}${l.contentAlgorithm}`];
  });
  if (lines.length === 0) return null;
  return <p class="encryption-note">Encrypted with {lines.join('; inside it, ')}.</p>;
}

function Shown({
  report,
  actions,
  keyChange,
  onAcceptKeyChange,
}: {
  report: OpenedMessage;
  actions: SignerActions;
  keyChange: KeyChange | null;
  /** The new key is already a trusted signer: the recipient decides it now stands for the address. */
  onAcceptKeyChange?: () => void;
}) {
  // A key change is never "verified": the panel says so, with both fingerprints, instead.
  return (
    <>
      {keyChange ? (
        <KeyChangePanel
          change={keyChange}
          {...(report.signature.status === 'valid' && onAcceptKeyChange
            ? { onAccept: onAcceptKeyChange }
            : {})}
        />
      ) : (
        <SignaturePanel report={report} />
      )}
      <SignerLookup actions={actions} />
      <EncryptionNote report={report} />
      {report.signature.status !== 'invalid' && (
        <section class="body" aria-label="Message">
          {report.html !== null ? (
            <HtmlBody html={report.html} attachments={report.attachments} />
          ) : (
            <pre class="text-body">{report.text}</pre>
          )}
        </section>
      )}
      <Attachments attachments={report.attachments} subject={report.subject} />
    </>
  );
}

/** Finding and trusting an unknown sender's key: what was found, where, and one explicit trust step. */
function SignerLookup({ actions }: { actions: SignerActions }) {
  if (!actions.lookUp && !actions.found && !actions.note) return null;
  return (
    <section class="signer-lookup" aria-label="The sender’s key">
      {actions.note && <p role="status">{actions.note}</p>}
      {actions.lookUp && (
        <p>
          <button type="button" onClick={actions.lookUp}>
            Look up the sender’s key
          </button>{' '}
          in this server’s directory, then in the Web Key Directory of the sender’s domain.
        </p>
      )}
      {actions.found && (
        <>
          <p role="status">
            Found an OpenPGP key for <strong>{actions.found.address}</strong> in {actions.found.where}, and it
            made this signature. Fingerprint <code>{groupHex(actions.found.entry.id)}</code>.
          </p>
          <p class="next">
            Anyone who can publish there could have put it there: if it matters, compare the fingerprint with{' '}
            {actions.found.address} by another channel first. Trusting it makes later messages signed with it
            verified; a different key for this address will not be.
          </p>
          <button type="button" class="primary" onClick={actions.found.trust}>
            Trust this key for {actions.found.address}
          </button>
        </>
      )}
    </section>
  );
}

/**
 * ASCII armor (RFC 9580, section 6.2) for a binary key from WKD, so it is kept like any other public
 * key. The CRC-24 checksum line is left out, as that RFC allows ("MAY be omitted"); OpenPGP.js reads
 * armor without it.
 */
function armor(binary: Uint8Array): string {
  return `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${base64Encode(binary, 76, '\n')}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
}

/** The verdict when the signer's key is not the one trusted for the address (key pinning). */
function KeyChangePanel({ change, onAccept }: { change: KeyChange; onAccept?: () => void }) {
  return (
    <section class="signature tone-warn" aria-labelledby="sig-headline">
      <div role="status" aria-live="polite" class="signature-status">
        <span class="signature-icon" aria-hidden="true">
          ⚠
        </span>
        <div>
          <p id="sig-headline" class="signature-headline">
            Signed by {change.address} with a different key — not verified
          </p>
          <p class="signature-detail">
            You trusted the key <code>{groupHex(change.trusted)}</code> for {change.address}. This message is
            signed with another key, <code>{groupHex(change.signer)}</code>. Someone may be impersonating the
            sender — or they changed their key.
          </p>
          <p class="next">
            Ask {change.address} by another channel whether they changed their key and which fingerprint it
            has. Until you decide, messages signed with the new key are not verified.
          </p>
          {onAccept && (
            <button type="button" onClick={onAccept}>
              The new key is theirs: trust it for {change.address} from now on
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
