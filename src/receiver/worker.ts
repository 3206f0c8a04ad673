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
} from '../core/index.ts';
import type { WorkerError, WorkerRequest, WorkerResponse } from './protocol.ts';

interface WorkerScope {
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}
const scope = globalThis as unknown as WorkerScope;

let pending: { id: number; controller: ReadableStreamDefaultController<Uint8Array> } | null = null;

function reply(msg: WorkerResponse, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function toError(e: unknown): WorkerError {
  if (e instanceof SealpostError) return { code: e.code, message: e.message, details: e.details };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e), details: {} };
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.op) {
    case 'open-begin': {
      const keyring = new MemoryKeyring(req.entries);
      const id = req.id;
      let received = 0;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          pending = { id, controller };
        },
      });
      try {
        const report = await openMessage(stream, {
          keyring,
          ...(req.password !== undefined ? { password: req.password } : {}),
          onProgress: (stage, done, total) => {
            if (stage === 'read') received = done;
            reply({
              id,
              progress: { stage, done: stage === 'read' ? received : done, total: total || req.size },
            });
          },
        });
        reply(
          { id, ok: true, result: report },
          report.attachments.map((a) => a.content.buffer as ArrayBuffer).filter(unique()),
        );
      } catch (e) {
        reply({ id, ok: false, error: toError(e) });
      } finally {
        pending = null;
      }
      return;
    }
    case 'open-chunk':
      pending?.controller.enqueue(req.chunk);
      return;
    case 'open-end':
      pending?.controller.close();
      return;
    case 'open-abort':
      pending?.controller.error(
        new SealpostError('truncated', 'The download of the message was interrupted.'),
      );
      return;
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
