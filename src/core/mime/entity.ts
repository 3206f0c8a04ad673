/**
 * MIME entities as raw bytes: the secure layers need the exact bytes of an entity and of each part
 * of a multipart (a multipart/signed signature covers the first part byte for byte), which
 * postal-mime does not expose. So the structure is read here — headers, RFC 2046 boundaries,
 * transfer decoding — and postal-mime reads the final, plain content (see content.ts).
 */
import { base64Decode, concatBytes } from '../bytes.ts';
import { SealpostError, limitExceeded, malformed } from '../errors.ts';
import type { Limits } from '../limits.ts';
import {
  headerValue,
  parseHeaderBlock,
  parseStructured,
  type HeaderField,
  type StructuredValue,
} from './headers.ts';

export interface Entity {
  /** The whole entity: header block and body. */
  raw: Uint8Array;
  fields: HeaderField[];
  /** Content-Type, defaulting to text/plain as RFC 2045 says. */
  contentType: StructuredValue;
  contentDisposition: StructuredValue;
  /** Content-Transfer-Encoding, lower case ('7bit' when absent). */
  transferEncoding: string;
  /** The body, still transfer-encoded. */
  body: Uint8Array;
}

export function parseEntity(raw: Uint8Array, limits: Pick<Limits, 'maxHeaderBytes'>): Entity {
  const block = parseHeaderBlock(raw, limits.maxHeaderBytes);
  const ctRaw = headerValue(block.fields, 'content-type');
  const contentType = parseStructured(ctRaw);
  if (!contentType.value || !contentType.value.includes('/')) {
    contentType.value = 'text/plain';
  }
  return {
    raw,
    fields: block.fields,
    contentType,
    contentDisposition: parseStructured(headerValue(block.fields, 'content-disposition')),
    transferEncoding: (headerValue(block.fields, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase(),
    body: raw.subarray(block.bodyOffset),
  };
}

/** Decodes the body's Content-Transfer-Encoding (base64, quoted-printable, or identity). */
export function decodeBody(entity: Entity): Uint8Array {
  switch (entity.transferEncoding) {
    case 'base64':
      return base64Decode(entity.body, true);
    case 'quoted-printable':
      return decodeQuotedPrintable(entity.body);
    case '7bit':
    case '8bit':
    case 'binary':
    case '':
      return entity.body;
    default:
      // RFC 2045: an unknown encoding must be treated as application/octet-stream; we refuse it
      // for secure layers, where guessing would verify or decrypt the wrong bytes.
      throw new SealpostError(
        'unsupported',
        `The transfer encoding "${entity.transferEncoding}" is not supported.`,
        {
          algorithm: `Content-Transfer-Encoding: ${entity.transferEncoding}`,
        },
      );
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

export function decodeQuotedPrintable(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 61 /* = */) {
      out[o++] = c;
      continue;
    }
    // soft line break: "=" then optional white space then CRLF or LF
    let j = i + 1;
    while (j < src.length && (src[j] === 32 || src[j] === 9)) j++;
    if (j < src.length && src[j] === 13 && src[j + 1] === 10) {
      i = j + 1;
      continue;
    }
    if (j < src.length && src[j] === 10) {
      i = j;
      continue;
    }
    if (j >= src.length) break;
    const h = hexValue(src[i + 1] ?? 0);
    const l = hexValue(src[i + 2] ?? 0);
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 2;
    } else {
      out[o++] = c; // a stray "=" is kept, as readers do
    }
  }
  return out.subarray(0, o);
}

function indexOfSeq(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const n = needle.length;
  let i = hay.indexOf(first, from);
  while (i >= 0 && i + n <= hay.length) {
    let k = 1;
    while (k < n && hay[i + k] === needle[k]) k++;
    if (k === n) return i;
    i = hay.indexOf(first, i + 1);
  }
  return -1;
}

export interface MultipartParts {
  parts: Uint8Array[];
  /** True when the closing delimiter was found. */
  closed: boolean;
}

/**
 * Splits a multipart body into the exact bytes of its parts (RFC 2046 §5.1.1: the line break before
 * a delimiter belongs to the delimiter, so it is not part of the preceding part).
 */
export function splitMultipart(entity: Entity, limits: Pick<Limits, 'maxParts'>): MultipartParts {
  const boundary = entity.contentType.params.boundary;
  if (!boundary) throw malformed(`The ${entity.contentType.value} part has no boundary parameter.`);
  const body = entity.body;
  const delim = new Uint8Array(boundary.length + 2);
  delim[0] = 45;
  delim[1] = 45;
  for (let i = 0; i < boundary.length; i++) delim[i + 2] = boundary.charCodeAt(i) & 0xff;

  // Find every delimiter line: "--boundary" at the start of a line.
  const parts: Uint8Array[] = [];
  let partStart = -1;
  let closed = false;
  let pos = 0;
  for (;;) {
    const at = indexOfSeq(body, delim, pos);
    if (at < 0) break;
    const atLineStart = at === 0 || body[at - 1] === 10;
    if (!atLineStart) {
      pos = at + 1;
      continue;
    }
    let after = at + delim.length;
    const isClose = body[after] === 45 && body[after + 1] === 45;
    if (isClose) after += 2;
    // Only transport padding (white space) may follow on the delimiter line.
    let eol = after;
    while (eol < body.length && (body[eol] === 32 || body[eol] === 9)) eol++;
    if (eol < body.length && body[eol] !== 13 && body[eol] !== 10 && !isClose) {
      pos = at + 1; // "--boundaryX": a longer boundary, not ours
      continue;
    }
    if (partStart >= 0) {
      let end = at;
      if (end > partStart && body[end - 1] === 10) end--;
      if (end > partStart && body[end - 1] === 13) end--;
      parts.push(body.subarray(partStart, Math.max(partStart, end)));
      if (parts.length > limits.maxParts) throw limitExceeded('MIME parts', limits.maxParts);
    }
    if (isClose) {
      closed = true;
      break;
    }
    // the part starts after the delimiter line's end
    let next = eol;
    while (next < body.length && body[next] !== 10) next++;
    partStart = next + 1;
    pos = partStart;
    if (partStart > body.length) break;
  }
  if (!closed && partStart >= 0 && partStart <= body.length) {
    // No closing delimiter: the message was cut off. Keep what is there; callers decide.
    parts.push(body.subarray(partStart));
  }
  return { parts, closed };
}

/** Rewrites bare LF line ends as CRLF (the canonical form signatures are computed over). */
export function toCrlf(bytes: Uint8Array): Uint8Array {
  // Visit line feeds only (indexOf is native): most input is already CRLF and is returned as is.
  let bare = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 13) bare++;
  }
  if (bare === 0) return bytes;
  const out = new Uint8Array(bytes.length + bare);
  let o = 0;
  let from = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 13) {
      out.set(bytes.subarray(from, i), o);
      o += i - from;
      out[o++] = 13;
      from = i;
    }
  }
  out.set(bytes.subarray(from), o);
  return out;
}

/**
 * Walks the whole MIME tree (multiparts and message/rfc822 parts) without decoding bodies, enforcing
 * the depth and part-count limits before any parser library sees the message.
 */
export interface Structure {
  parts: number;
  depth: number;
  /** Whether any inline text/html part exists (outside attached messages). */
  hasHtml: boolean;
  /** The decoded bodies of the outermost message/rfc822 parts, in document order. */
  messageParts: Uint8Array[];
  /**
   * Attachment-like leaves of the top-level tree that are large or quoted-printable, as offsets of
   * their (encoded) bodies in the walked buffer, in document order: content.ts decodes these itself
   * instead of postal-mime (which is ~5x slower on large bodies, and ends the last line of every
   * quoted-printable body with a newline that was not sent, so a saved file would differ).
   */
  bulky: { start: number; end: number; entity: Entity }[];
}

/** Leaves above this size are decoded by us (postal-mime is ~5x slower on large bodies). */
export const BULKY_PART_BYTES = 256 * 1024;

export function checkStructure(raw: Uint8Array, limits: Limits): Structure {
  let parts = 0;
  let maxDepth = 0;
  let hasHtml = false;
  const messageParts: Uint8Array[] = [];
  const bulky: Structure['bulky'] = [];
  const visit = (bytes: Uint8Array, depth: number, inMessage: boolean): void => {
    if (depth > limits.maxMimeDepth) throw limitExceeded('MIME nesting depth', limits.maxMimeDepth);
    if (++parts > limits.maxParts) throw limitExceeded('MIME parts', limits.maxParts);
    maxDepth = Math.max(maxDepth, depth);
    const e = parseEntity(bytes, limits);
    const type = e.contentType.value;
    if (type === 'text/html' && e.contentDisposition.value !== 'attachment' && !inMessage) hasHtml = true;
    if (type.startsWith('multipart/')) {
      if (!e.contentType.params.boundary) return;
      for (const p of splitMultipart(e, limits).parts) visit(p, depth + 1, inMessage);
    } else if (type === 'message/rfc822' || type === 'message/global') {
      const inner =
        e.transferEncoding === 'base64' || e.transferEncoding === 'quoted-printable' ? decodeBody(e) : e.body;
      if (!inMessage && depth > 0) messageParts.push(inner);
      visit(inner, depth + 1, inMessage || depth > 0);
    } else if (
      !inMessage &&
      (e.body.length > BULKY_PART_BYTES || e.transferEncoding === 'quoted-printable') &&
      e.body.buffer === raw.buffer &&
      (e.contentDisposition.value === 'attachment' || !type.startsWith('text/'))
    ) {
      const start = e.body.byteOffset - raw.byteOffset;
      if (start >= 0 && start + e.body.length <= raw.length)
        bulky.push({ start, end: start + e.body.length, entity: e });
    }
  };
  visit(raw, 0, false);
  return { parts, depth: maxDepth, hasHtml, messageParts, bulky };
}

/** A text/plain entity around UTF-8 text (for inline OpenPGP, whose plaintext is not MIME). */
export function textEntity(text: Uint8Array, charset = 'utf-8'): Uint8Array {
  const head = new TextEncoder().encode(
    `Content-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
  );
  return concatBytes([head, text]);
}
