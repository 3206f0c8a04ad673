/**
 * The crypto worker: runs core (openMessage, key import/export) off the page's thread. The S/MIME
 * or OpenPGP half of core is loaded by core itself, on demand, when a message or key needs it.
 */
import {
  MemoryKeyring,
  SealpostError,
  describeCertificateDer,
  exportPrivateKey,
  generateIdentity,
  importKeyFile,
  openMessage,
  type KeyEntry,
} from '../core/index.ts';
import type { WorkerError, WorkerRequest, WorkerResponse } from './protocol.ts';

interface WorkerScope {
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

/**
 * The downloaded message: one copy, filled in place as chunks arrive (transferred from the page, not
 * copied), kept so that another key or password can open it without downloading it again.
 */
let message: { bytes: Uint8Array; length: number } | null = null;
let receiving: { id: number; entries: KeyEntry[]; password?: string } | null = null;

function append(chunk: Uint8Array): void {
  if (!message) return;
  if (message.length + chunk.length > message.bytes.length) {
    const grown = new Uint8Array(Math.max(message.bytes.length * 2, message.length + chunk.length));
    grown.set(message.bytes.subarray(0, message.length));
    message.bytes = grown;
  }
  message.bytes.set(chunk, message.length);
  message.length += chunk.length;
}

/** An attachment's bytes in a buffer of their own, so transferring them detaches nothing else. */
function own(a: Uint8Array): Uint8Array {
  const shared =
    a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || a.buffer === message?.bytes.buffer;
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
    const report = await openMessage(message.bytes.subarray(0, message.length), {
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
      message = { bytes: new Uint8Array(Math.max(req.size, 1024)), length: 0 };
      receiving = {
        id: req.id,
        entries: req.entries,
        ...(req.password !== undefined ? { password: req.password } : {}),
      };
      return;
    case 'open-chunk':
      append(req.chunk);
      return;
    case 'open-end': {
      const r = receiving;
      receiving = null;
      if (r) await run(r.id, r.entries, r.password);
      return;
    }
    case 'open-abort': {
      const r = receiving;
      receiving = null;
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
        importKeyFile(req.bytes, {
          trusted: req.trusted,
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
