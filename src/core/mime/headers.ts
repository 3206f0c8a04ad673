/**
 * Just enough RFC 5322 / RFC 2045 header handling to see a message's structure: split a header
 * block from its body (CRLF or LF), unfold headers, and parse Content-Type style values with their
 * parameters (RFC 2045 quoting, RFC 2231 continuations and charsets). Full content extraction
 * (bodies, attachments, RFC 2047 words) is postal-mime's job; this exists because the secure layers
 * need the exact raw bytes of an entity and its parts, which postal-mime does not expose.
 */
import { decodeWords } from 'postal-mime';
import { latin1 } from '../bytes.ts';
import { SealpostError, limitExceeded } from '../errors.ts';

export interface HeaderField {
  name: string; // lower case
  value: string; // unfolded, raw (RFC 2047 words not decoded)
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Offset of the first body byte (after the empty line), or bytes.length when there is no body. */
  bodyOffset: number;
  /** True when the header block ended with an empty line (a well-formed entity). */
  complete: boolean;
}

/** Parses the header block at the start of `bytes`, up to `maxHeaderBytes`. */
export function parseHeaderBlock(bytes: Uint8Array, maxHeaderBytes = 1024 * 1024): HeaderBlock {
  const lines: string[] = [];
  let pos = 0;
  let complete = false;
  const n = bytes.length;
  while (pos < n) {
    let end = bytes.indexOf(10, pos);
    const next = end < 0 ? n : end + 1;
    if (end < 0) end = n;
    let lineEnd = end;
    if (lineEnd > pos && bytes[lineEnd - 1] === 13) lineEnd--;
    if (lineEnd === pos) {
      pos = next;
      complete = true;
      break;
    }
    if (next > maxHeaderBytes) throw limitExceeded('header size', maxHeaderBytes);
    lines.push(latin1(bytes, pos, lineEnd));
    pos = next;
  }
  // Content that does not start with a header field (e.g. bare text signed or encrypted without
  // MIME headers, as in RFC 4134's samples) has no header section: all of it is the body.
  if (lines.length > 0 && !/^[!-9;-~]+[ \t]*:/.test(lines[0]!))
    return { fields: [], bodyOffset: 0, complete: false };
  const fields: HeaderField[] = [];
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      last.value += line; // unfold: CRLF removed, the white space kept
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      if (fields.length === 0 && lines.length === 1 && !complete) break; // not a header at all
      continue; // tolerate junk lines like readers do
    }
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return { fields, bodyOffset: complete ? pos : n, complete };
}

export function headerValue(fields: readonly HeaderField[], name: string): string | null {
  const f = fields.find((h) => h.name === name);
  return f ? f.value : null;
}

export interface StructuredValue {
  value: string; // lower case, e.g. "multipart/signed"
  params: Record<string, string>; // names lower case, values decoded (RFC 2231)
}

/** Parses `type/subtype; a=b; c="d"` with RFC 2231 continuations (`name*0*=utf-8''…`). */
export function parseStructured(raw: string | null): StructuredValue {
  if (!raw) return { value: '', params: {} };
  const parts = splitParams(raw);
  const value = (parts.shift() ?? '').trim().toLowerCase();
  const simple: Record<string, string> = {};
  const continued: Record<string, { index: number; encoded: boolean; text: string }[]> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    let key = part.slice(0, eq).trim().toLowerCase();
    let val = part.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) {
      val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const m = /^([^*]+)\*(\d+)?(\*)?$/.exec(key);
    if (m) {
      key = m[1]!;
      (continued[key] ??= []).push({
        index: m[2] ? Number(m[2]) : 0,
        encoded: Boolean(m[3]) || !m[2],
        text: val,
      });
    } else {
      simple[key] = val;
    }
  }
  const params: Record<string, string> = { ...simple };
  for (const [key, pieces] of Object.entries(continued)) {
    pieces.sort((a, b) => a.index - b.index);
    let charset = 'utf-8';
    const bytes: number[] = [];
    pieces.forEach((p, i) => {
      let text = p.text;
      if (p.encoded) {
        if (i === 0) {
          const first = /^([^']*)'[^']*'(.*)$/.exec(text);
          if (first) {
            charset = first[1] || 'utf-8';
            text = first[2]!;
          }
        }
        for (let j = 0; j < text.length; j++) {
          if (text[j] === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(j + 1, j + 3))) {
            bytes.push(parseInt(text.slice(j + 1, j + 3), 16));
            j += 2;
          } else bytes.push(text.charCodeAt(j) & 0xff);
        }
      } else {
        for (let j = 0; j < text.length; j++) bytes.push(text.charCodeAt(j) & 0xff);
      }
    });
    try {
      params[key] = new TextDecoder(charset).decode(new Uint8Array(bytes));
    } catch {
      params[key] = new TextDecoder('utf-8').decode(new Uint8Array(bytes));
    }
  }
  return { value, params };
}

function splitParams(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quoted && c === '\\' && i + 1 < raw.length) {
      cur += c + raw[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur);
      cur = '';
      continue;
    }
    if (c === '(' && !quoted) {
      // RFC 822 comment: skip it
      let depth = 1;
      while (++i < raw.length && depth > 0) {
        if (raw[i] === '(') depth++;
        else if (raw[i] === ')') depth--;
      }
      i--;
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** Decodes RFC 2047 encoded words in an unstructured header (Subject), never throwing. */
export function decodeHeaderText(raw: string | null): string {
  if (!raw) return '';
  try {
    return decodeWords(raw);
  } catch (e) {
    if (e instanceof SealpostError) throw e;
    return raw;
  }
}
