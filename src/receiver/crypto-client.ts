/**
 * The page's side of the crypto worker: one request at a time per call, answers matched by id.
 */
import type { CertificateInfo, GenerateKind, KeyEntry, OpenedMessage } from '../core/index.ts';
import type { WorkerError, WorkerRequest, WorkerResponse } from './protocol.ts';

export class CryptoError extends Error {
  readonly code: WorkerError['code'];
  readonly details: WorkerError['details'];
  constructor(e: WorkerError) {
    super(e.message);
    this.code = e.code;
    this.details = e.details;
  }
}

type Waiter = {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  progress?: (done: number, total: number, stage: string) => void;
};

// Distributive Omit over the request union, so each variant keeps its own fields.
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class CryptoClient {
  #worker: Worker;
  #next = 1;
  #waiters = new Map<number, Waiter>();

  constructor() {
    this.#worker = new Worker(new URL('./worker.ts', import.meta.url), {
      type: 'module',
      name: 'sealpost-crypto',
    });
    this.#worker.onmessage = (ev: MessageEvent<WorkerResponse>) => {
      const msg = ev.data;
      const w = this.#waiters.get(msg.id);
      if (!w) return;
      if ('progress' in msg) {
        w.progress?.(msg.progress.done, msg.progress.total, msg.progress.stage);
        return;
      }
      this.#waiters.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new CryptoError(msg.error));
    };
    this.#worker.onerror = (ev) => {
      for (const w of this.#waiters.values())
        w.reject(
          new CryptoError({
            code: 'internal',
            message: ev.message || 'The crypto worker failed.',
            details: {},
          }),
        );
      this.#waiters.clear();
    };
  }

  #call<T>(req: WithoutId<WorkerRequest>, transfer: Transferable[] = []): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#waiters.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...req, id }, transfer);
    });
  }

  /**
   * Opens a message whose bytes arrive in chunks: `feed` is called with a push function and must
   * push every chunk then resolve; the worker processes the stream as it comes.
   */
  open(
    entries: KeyEntry[],
    password: string | undefined,
    size: number,
    feed: (push: (chunk: Uint8Array) => void) => Promise<void>,
    onProgress: (done: number, total: number, stage: string) => void,
  ): Promise<OpenedMessage> {
    const id = this.#next++;
    const result = new Promise<OpenedMessage>((resolve, reject) => {
      this.#waiters.set(id, { resolve: resolve as (v: unknown) => void, reject, progress: onProgress });
    });
    this.#worker.postMessage({
      id,
      op: 'open-begin',
      entries,
      size,
      ...(password !== undefined ? { password } : {}),
    } satisfies WorkerRequest);
    feed((chunk) => {
      // Hand the bytes over (no copy) when the chunk owns its buffer: the page keeps none of them.
      const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
      this.#worker.postMessage(
        { id, op: 'open-chunk', chunk } satisfies WorkerRequest,
        own ? [chunk.buffer] : [],
      );
    }).then(
      () => this.#worker.postMessage({ id, op: 'open-end' } satisfies WorkerRequest),
      () => this.#worker.postMessage({ id, op: 'open-abort' } satisfies WorkerRequest),
    );
    return result;
  }

  /** Opens the message the worker already downloaded again, with other keys or a password. */
  openAgain(
    entries: KeyEntry[],
    password: string | undefined,
    onProgress: (done: number, total: number, stage: string) => void,
  ): Promise<OpenedMessage> {
    const id = this.#next++;
    const result = new Promise<OpenedMessage>((resolve, reject) => {
      this.#waiters.set(id, { resolve: resolve as (v: unknown) => void, reject, progress: onProgress });
    });
    this.#worker.postMessage({
      id,
      op: 'open-again',
      entries,
      ...(password !== undefined ? { password } : {}),
    } satisfies WorkerRequest);
    return result;
  }

  /**
   * Reads key files chosen together: PKCS#12, OpenPGP keys, certificates, and PKCS#8 private keys
   * (paired with their certificate among the files or among `known`, certificates already kept).
   */
  importKeys(
    files: Uint8Array[],
    passphrase: string | undefined,
    trusted: boolean,
    known: Uint8Array[] = [],
  ): Promise<KeyEntry[]> {
    return this.#call({
      op: 'import',
      files,
      certificates: known,
      trusted,
      ...(passphrase !== undefined ? { passphrase } : {}),
    });
  }

  exportKey(
    entry: KeyEntry,
    passphrase: string,
  ): Promise<{ kind: 'pkcs12'; data: Uint8Array } | { kind: 'openpgp'; data: string }> {
    return this.#call({ op: 'export', entry, passphrase });
  }

  generate(kind: GenerateKind, name: string, email: string): Promise<KeyEntry[]> {
    return this.#call({ op: 'generate', kind, name, email });
  }

  describeCertificate(der: Uint8Array): Promise<CertificateInfo> {
    return this.#call({ op: 'describe-certificate', der });
  }
}
