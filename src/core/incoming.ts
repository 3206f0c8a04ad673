/**
 * A message as it arrives (the receiver's download, a stream): the header section is read as soon as
 * it is complete, and when the body is one base64-encoded CMS object (application/pkcs7-mime, the
 * shape of every S/MIME encrypted or opaque-signed message) its transfer encoding is decoded while
 * the bytes come in. Only the decoded object is kept, not the text: less memory, less work at the
 * end. Any other message is kept as it came. `openMessage` takes the result like a whole message,
 * as often as needed (another key, a password).
 */
import { Base64StreamDecoder } from './bytes.ts';
import { limitExceeded } from './errors.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { parseHeaderBlock } from './mime/headers.ts';
import { parseEntity } from './mime/entity.ts';

export interface PreparedMessage {
  readonly kind: 'prepared-message';
  /** The header section (with its blank line) when the body was decoded; else the whole message. */
  readonly head: Uint8Array;
  /** The decoded body (CMS DER) when the body was decoded as it arrived; null otherwise. */
  readonly decodedBody: Uint8Array | null;
  /** Bytes received. */
  readonly size: number;
}

export function isPreparedMessage(x: unknown): x is PreparedMessage {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'prepared-message';
}

export class IncomingMessage {
  readonly #limits: Limits;
  #raw: Uint8Array;
  #rawLength = 0;
  #received = 0;
  #head: Uint8Array | null = null;
  #decoder: Base64StreamDecoder | null = null;
  #ended = false;

  constructor(options: { expectedSize?: number; limits?: Partial<Limits> } = {}) {
    this.#limits = resolveLimits(options.limits);
    this.#raw = new Uint8Array(
      Math.min(Math.max(options.expectedSize ?? 0, 4096), this.#limits.maxTotalBytes),
    );
  }

  /** Bytes received so far. */
  get received(): number {
    return this.#received;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended) throw new Error('IncomingMessage: push after end');
    this.#received += chunk.length;
    if (this.#received > this.#limits.maxTotalBytes)
      throw limitExceeded(
        'total size',
        this.#limits.maxTotalBytes,
        `The message is larger than the limit of ${this.#limits.maxTotalBytes} bytes.`,
      );
    if (this.#decoder) {
      this.#decoder.push(chunk);
      return;
    }
    this.#append(chunk);
    if (this.#head === null) this.#lookForHead();
  }

  end(): PreparedMessage {
    this.#ended = true;
    if (this.#decoder && this.#head)
      return {
        kind: 'prepared-message',
        head: this.#head,
        decodedBody: this.#decoder.result(),
        size: this.#received,
      };
    return {
      kind: 'prepared-message',
      head: this.#raw.subarray(0, this.#rawLength),
      decodedBody: null,
      size: this.#received,
    };
  }

  #append(chunk: Uint8Array): void {
    if (this.#rawLength + chunk.length > this.#raw.length) {
      const grown = new Uint8Array(Math.max(this.#rawLength + chunk.length, this.#raw.length * 2));
      grown.set(this.#raw.subarray(0, this.#rawLength));
      this.#raw = grown;
    }
    this.#raw.set(chunk, this.#rawLength);
    this.#rawLength += chunk.length;
  }

  /** Once the header section is complete: decide whether to decode the body as it comes. */
  #lookForHead(): void {
    const bytes = this.#raw.subarray(0, this.#rawLength);
    const block = parseHeaderBlock(bytes, this.#limits.maxHeaderBytes);
    if (!block.complete) {
      if (this.#rawLength > this.#limits.maxHeaderBytes) this.#head = new Uint8Array(0); // give up: keep raw
      return;
    }
    const head = bytes.slice(0, block.bodyOffset);
    const entity = parseEntity(head, this.#limits);
    const type = entity.contentType.value;
    const filename = (
      entity.contentType.params.name ??
      entity.contentDisposition.params.filename ??
      ''
    ).toLowerCase();
    const cms =
      type === 'application/pkcs7-mime' ||
      type === 'application/x-pkcs7-mime' ||
      (type === 'application/octet-stream' && filename.endsWith('.p7m'));
    this.#head = head;
    if (!cms || entity.transferEncoding !== 'base64') return; // kept as it comes
    this.#decoder = new Base64StreamDecoder(Math.max(0, this.#raw.length - head.length));
    this.#decoder.push(bytes.subarray(block.bodyOffset));
    this.#raw = new Uint8Array(0);
    this.#rawLength = 0;
  }
}
