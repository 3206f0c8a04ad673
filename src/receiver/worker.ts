/**
 * The crypto worker: runs core (openMessage, key import/export) off the page's thread. The S/MIME
 * or OpenPGP half of core is loaded by core itself, on demand, when a message or key needs it.
 */
import {
  IncomingMessage,
  MemoryKeyring,
  SealpostError,
  describeCertificateDer,
  exportPrivateKey,
  generateIdentity,
  importKeyFiles,
  openMessage,
  type KeyEntry,
  type PreparedMessage,
} from '../core/index.ts';
import type { WorkerError, WorkerRequest, WorkerResponse } from './protocol.ts';

interface WorkerScope {
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

/**
 * The downloaded message, processed by core as it arrives (an S/MIME body's transfer encoding is
 * decoded chunk by chunk and only the decoded object is kept), and kept so that another key or
 * password can open it without downloading it again.
 */
let incoming: IncomingMessage | null = null;
let message: PreparedMessage | null = null;
let receiving: { id: number; entries: KeyEntry[]; password?: string } | null = null;
let failed: unknown = null;

/** An attachment's bytes in a buffer of their own, so transferring them detaches nothing else. */
function own(a: Uint8Array): Uint8Array {
  const shared =
    a.byteOffset !== 0 ||
    a.byteLength !== a.buffer.byteLength ||
    a.buffer === message?.head.buffer ||
    a.buffer === message?.decodedBody?.buffer;
  return shared ? a.slice() : a;
}

async function run(id: number, entries: KeyEntry[], password: string | undefined): Promise<void> {
  if (!message) {
    reply({
      id,
      ok: false,
      error: { code: 'internal', message: 'There is no message to open.', details: {} },
    });
    return;
  }
  try {
    const report = await openMessage(message, {
      keyring: new MemoryKeyring(entries),
      ...(password !== undefined ? { password } : {}),
      onProgress: (stage, done, total) => reply({ id, progress: { stage, done, total } }),
    });
    const attachments = report.attachments.map((x) => ({ ...x, content: own(x.content) }));
    reply(
      { id, ok: true, result: { ...report, attachments } },
      attachments.map((x) => x.content.buffer as ArrayBuffer).filter(unique()),
    );
  } catch (e) {
    reply({ id, ok: false, error: toError(e) });
  }
}

function reply(msg: WorkerResponse, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function toError(e: unknown): WorkerError {
  if (e instanceof SealpostError) return { code: e.code, message: e.message, details: e.details };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e), details: {} };
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.op) {
    case 'open-begin':
      message = null;
      failed = null;
      incoming = new IncomingMessage({ expectedSize: req.size });
      receiving = {
        id: req.id,
        entries: req.entries,
        ...(req.password !== undefined ? { password: req.password } : {}),
      };
      return;
    case 'open-chunk':
      try {
        incoming?.push(req.chunk);
      } catch (e) {
        // Over the size limit: say so once, at the end.
        failed = e;
        incoming = null;
      }
      return;
    case 'open-end': {
      const r = receiving;
      receiving = null;
      if (failed !== null && r) {
        reply({ id: r.id, ok: false, error: toError(failed) });
        failed = null;
        return;
      }
      message = incoming ? incoming.end() : null;
      incoming = null;
      if (r) await run(r.id, r.entries, r.password);
      return;
    }
    case 'open-abort': {
      const r = receiving;
      receiving = null;
      incoming = null;
      message = null;
      if (r)
        reply({
          id: r.id,
          ok: false,
          // The connection broke, not the message: not 'truncated', which would report it failed.
          error: {
            code: 'internal',
            message: 'The download of the message was interrupted. Check your connection.',
            details: {},
          },
        });
      return;
    }
    case 'open-again':
      return run(req.id, req.entries, req.password);
    case 'import':
      return respond(req.id, () =>
        importKeyFiles(req.files, {
          trusted: req.trusted,
          certificates: req.certificates,
          ...(req.passphrase !== undefined ? { passphrase: req.passphrase } : {}),
        }),
      );
    case 'export':
      return respond(req.id, () => exportPrivateKey(req.entry, req.passphrase));
    case 'generate':
      return respond(req.id, () => generateIdentity(req.kind, req.name, req.email));
    case 'describe-certificate':
      return respond(req.id, () => describeCertificateDer(req.der));
  }
}

async function respond(id: number, fn: () => Promise<unknown>): Promise<void> {
  try {
    reply({ id, ok: true, result: await fn() });
  } catch (e) {
    reply({ id, ok: false, error: toError(e) });
  }
}

function unique<T>(): (v: T) => boolean {
  const seen = new Set<T>();
  return (v) => (seen.has(v) ? false : (seen.add(v), true));
}

scope.onmessage = (ev) => {
  void handle(ev.data);
};
