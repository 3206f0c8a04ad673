/**
 * Byte helpers for core. Core works on Uint8Array only (never Buffer) so the same code runs in the
 * browser, a Web Worker and Node. Base64 is our own because `atob` is slow on large bodies and
 * neither host offers a fast, whitespace-tolerant decoder to both environments.
 */
import { limitExceeded, malformed } from './errors.ts';

const utf8Encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes UTF-8, replacing invalid sequences (never throws). */
export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/** Decodes bytes 1:1 as Latin-1 (for headers and protocol text where every byte must survive). */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  const CHUNK = 0x8000;
  for (let i = start; i < end; i += CHUNK) {
    out += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + CHUNK)));
  }
  return out;
}

export function fromLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw malformed('Invalid hexadecimal text.');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

/** A fresh ArrayBuffer holding exactly these bytes (WebCrypto and some libraries want one). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < B64.length; i++) B64_DECODE[B64.charCodeAt(i)] = i;
B64_DECODE['-'.charCodeAt(0)] = 62; // base64url, tolerated
B64_DECODE['_'.charCodeAt(0)] = 63;
/** Two base64 characters (as a 16-bit index) → their 12 bits, or 0xffff when either is not base64. */
const PAIRS = new Uint16Array(65536).fill(0xffff);
for (let a = 0; a < 256; a++) {
  const va = B64_DECODE[a]!;
  if (va < 0) continue;
  for (let b = 0; b < 256; b++) {
    const vb = B64_DECODE[b]!;
    if (vb >= 0) PAIRS[(a << 8) | b] = (va << 6) | vb;
  }
}
const WS = new Uint8Array(256);
for (const c of [9, 10, 13, 32]) WS[c] = 1;

/**
 * Decodes base64 from ASCII bytes, skipping whitespace. Like mail readers, it stops at the first
 * '=' padding and ignores a trailing partial quantum only when `lenient` is set; otherwise stray
 * characters are `malformed`.
 */
/** The platform's base64 decoder (TC39 Uint8Array.fromBase64: Chromium 140+, Firefox 133+, Safari 18.2+). */
const nativeFromBase64 = (
  Uint8Array as unknown as {
    fromBase64?: (text: string, options?: { lastChunkHandling?: string }) => Uint8Array;
  }
).fromBase64;
const asciiDecoder = new TextDecoder('latin1');

/**
 * A faster decoder the host may provide for large bodies (the CLI passes Node's native one). Core
 * stays free of platform imports; it only calls what it is given. It is used only for lenient
 * decoding (transfer encodings), and must follow the same rules: skip white space and other
 * non-alphabet bytes, stop at the first '=' (test/core/mime checks Node's against ours).
 */
let hostDecoder: ((ascii: Uint8Array) => Uint8Array) | null = null;

export function useHostBase64Decoder(decoder: ((ascii: Uint8Array) => Uint8Array) | null): void {
  hostDecoder = decoder;
}

export function base64Decode(input: Uint8Array | string, lenient = false): Uint8Array {
  if (hostDecoder && lenient && typeof input !== 'string' && input.length > 65536) {
    try {
      return hostDecoder(input);
    } catch {
      // fall through to our decoder
    }
  }
  if (nativeFromBase64 && input.length > 65536) {
    try {
      // Skips ASCII white space like we do; anything else (junk, '=' inside) throws: then our
      // decoder below decides, with its own lenient rules.
      const text = typeof input === 'string' ? input : asciiDecoder.decode(input);
      return nativeFromBase64.call(Uint8Array, text, { lastChunkHandling: 'loose' });
    } catch {
      // fall through
    }
  }
  const src = typeof input === 'string' ? fromLatin1(input) : input;
  const out = new Uint8Array(Math.floor((src.length * 3) / 4) + 3);
  const o = decodeBase64Into(src, out, 0, { acc: 0, bits: 0, done: false }, lenient);
  return out.subarray(0, o);
}

interface Base64State {
  acc: number;
  bits: number;
  /** '=' was seen: the rest is ignored. */
  done: boolean;
}

/** The decoding loop, resumable across calls through `state`; returns the new output offset. */
function decodeBase64Into(
  src: Uint8Array,
  out: Uint8Array,
  start: number,
  state: Base64State,
  lenient: boolean,
): number {
  if (state.done) return start;
  const T = B64_DECODE;
  const n = src.length;
  let o = start;
  let acc = state.acc;
  let bits = state.bits;
  let i = 0;
  while (i < n) {
    // Fast path: four base64 characters at a quantum boundary (the common case of 76-column lines),
    // two characters per table lookup.
    if (bits === 0 && i + 3 < n) {
      const hi = PAIRS[(src[i]! << 8) | src[i + 1]!]!;
      const lo = PAIRS[(src[i + 2]! << 8) | src[i + 3]!]!;
      if (((hi | lo) & 0x8000) === 0) {
        out[o] = hi >> 4;
        out[o + 1] = ((hi & 15) << 4) | (lo >> 8);
        out[o + 2] = lo & 0xff;
        o += 3;
        i += 4;
        continue;
      }
    }
    const ch = src[i]!;
    const v = T[ch]!;
    i++;
    if (v >= 0) {
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
      continue;
    }
    if (WS[ch]) continue;
    if (ch === 61 /* = */) {
      state.done = true;
      break;
    }
    if (!lenient) throw malformed(`Invalid character in base64 data (byte ${ch} at offset ${i - 1}).`);
  }
  state.acc = acc;
  state.bits = bits;
  return o;
}

/**
 * Lenient base64 decoding of a body that arrives in pieces (the receiver decodes the message's
 * transfer encoding while it downloads): the same result as base64Decode(whole, true).
 */
export class Base64StreamDecoder {
  #out: Uint8Array;
  #length = 0;
  readonly #state: Base64State = { acc: 0, bits: 0, done: false };

  constructor(expectedInputBytes = 0) {
    this.#out = new Uint8Array(Math.floor((expectedInputBytes * 3) / 4) + 3);
  }

  push(chunk: Uint8Array): void {
    const need = this.#length + Math.floor((chunk.length * 3) / 4) + 3;
    if (need > this.#out.length) {
      const grown = new Uint8Array(Math.max(need, this.#out.length * 2));
      grown.set(this.#out.subarray(0, this.#length));
      this.#out = grown;
    }
    this.#length = decodeBase64Into(chunk, this.#out, this.#length, this.#state, true);
  }

  /** The decoded bytes so far (a view). */
  result(): Uint8Array {
    return this.#out.subarray(0, this.#length);
  }
}

export function base64Encode(bytes: Uint8Array, lineLength = 0, newline = '\r\n'): string {
  let out = '';
  const parts: string[] = [];
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[(n >>> 18) & 63]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + B64[n & 63]!;
    if (out.length >= 8192) {
      parts.push(out);
      out = '';
    }
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[(n >>> 18) & 63]! + B64[(n >>> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[(n >>> 18) & 63]! + B64[(n >>> 12) & 63]! + B64[(n >>> 6) & 63]! + '=';
  }
  parts.push(out);
  const flat = parts.join('');
  if (lineLength <= 0) return flat;
  const lines: string[] = [];
  for (let j = 0; j < flat.length; j += lineLength) lines.push(flat.slice(j, j + lineLength));
  return lines.join(newline);
}

/** Reads a whole web stream into one Uint8Array, refusing to grow past `maxBytes`. */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  onChunk?: (received: number) => void,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        throw limitExceeded(
          'total size',
          maxBytes,
          `The message is larger than the limit of ${maxBytes} bytes.`,
        );
      }
      chunks.push(value);
      onChunk?.(total);
    }
  } finally {
    reader.releaseLock();
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}

/**
 * The same bytes typed as a WebCrypto BufferSource, without a copy. Core never allocates on a
 * SharedArrayBuffer, so the view's buffer is a plain ArrayBuffer.
 */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
