/**
 * A small BER/DER reader for the outer structure of CMS messages.
 *
 * Written here because no library does the job: asn1js (and so PKI.js) refuses content over 16 MiB
 * and more than 10,000 nodes by default, copies the input several times and builds an object per
 * node — a 100 MB message streamed by OpenSSL (indefinite lengths, the content split into thousands
 * of OCTET STRING segments) is out of its reach. This reader only walks tags and lengths over one
 * Uint8Array, never copies, and hands small inner structures (certificates, RecipientInfos,
 * SignerInfos) to asn1js/PKI.js as DER slices.
 */
import { SealpostError, limitExceeded } from '../errors.ts';

export interface Tlv {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  cls: number;
  constructed: boolean;
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the content (before the end-of-contents octets of an indefinite length). */
  contentEnd: number;
  /** Offset just past the whole element (including end-of-contents octets). */
  end: number;
  indefinite: boolean;
}

const MAX_DEPTH = 64;
/** Elements in one constructed element read as a list (sets of certificates, recipients, …). */
const MAX_CHILDREN = 10_000;
/** Indefinite-length elements at least this long remember their end (see readTlv). */
const CACHE_FROM = 4096;

/**
 * Ends of large indefinite-length elements, per input array. Finding such an end means walking the
 * whole element, and every ancestor asks again when its own children are listed: without this, a
 * deep nest of indefinite lengths costs depth × size.
 */
const indefiniteEnds = new WeakMap<Uint8Array, Map<number, number>>();

export const UNIVERSAL = 0;
export const CONTEXT = 2;
export const T = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  SEQUENCE: 16,
  SET: 17,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
} as const;

function truncatedError(): SealpostError {
  return new SealpostError(
    'truncated',
    'The S/MIME data ends before its structure is complete: the message was cut off.',
  );
}

function malformedError(what: string): SealpostError {
  return new SealpostError('malformed', `The S/MIME data is not valid ASN.1 (${what}).`);
}

/** Reads one element at `offset` (which must be < limit). */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length, depth = 0): Tlv {
  if (depth > MAX_DEPTH) throw limitExceeded('ASN.1 nesting depth', MAX_DEPTH);
  let i = offset;
  if (i >= limit) throw truncatedError();
  const id = bytes[i++]!;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let n = 0; ; n++) {
      if (i >= limit) throw truncatedError();
      if (n > 4) throw malformedError('tag number too large');
      const b = bytes[i++]!;
      tag = tag * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (i >= limit) throw truncatedError();
  const first = bytes[i++]!;
  if (first === 0x80) {
    if (!constructed) throw malformedError('indefinite length on a primitive element');
    // Indefinite: walk the children until the end-of-contents octets.
    const contentStart = i;
    const known = indefiniteEnds.get(bytes)?.get(offset);
    if (known !== undefined) {
      if (known > limit) throw truncatedError();
      return {
        cls,
        constructed,
        tag,
        start: offset,
        contentStart,
        contentEnd: known - 2,
        end: known,
        indefinite: true,
      };
    }
    let j = i;
    for (;;) {
      if (j + 2 > limit) throw truncatedError();
      if (bytes[j] === 0 && bytes[j + 1] === 0) {
        if (j + 2 - offset >= CACHE_FROM) {
          let ends = indefiniteEnds.get(bytes);
          if (!ends) indefiniteEnds.set(bytes, (ends = new Map()));
          ends.set(offset, j + 2);
        }
        return {
          cls,
          constructed,
          tag,
          start: offset,
          contentStart,
          contentEnd: j,
          end: j + 2,
          indefinite: true,
        };
      }
      j = readTlv(bytes, j, limit, depth + 1).end;
    }
  }
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n > 6) throw malformedError('length too large');
    length = 0;
    for (let k = 0; k < n; k++) {
      if (i >= limit) throw truncatedError();
      length = length * 256 + bytes[i++]!;
    }
  }
  const contentStart = i;
  const end = contentStart + length;
  if (end > limit) throw truncatedError();
  return { cls, constructed, tag, start: offset, contentStart, contentEnd: end, end, indefinite: false };
}

/** The children of a constructed element. */
export function children(bytes: Uint8Array, tlv: Tlv, depth = 0): Tlv[] {
  if (!tlv.constructed) throw malformedError('expected a constructed element');
  const out: Tlv[] = [];
  let i = tlv.contentStart;
  while (i < tlv.contentEnd) {
    const c = readTlv(bytes, i, tlv.contentEnd, depth + 1);
    if (out.length >= MAX_CHILDREN) throw limitExceeded('ASN.1 elements in one structure', MAX_CHILDREN);
    out.push(c);
    i = c.end;
  }
  return out;
}

export function is(tlv: Tlv | undefined, cls: number, tag: number): tlv is Tlv {
  return tlv !== undefined && tlv.cls === cls && tlv.tag === tag;
}

export function expect(tlv: Tlv | undefined, cls: number, tag: number, what: string): Tlv {
  if (!is(tlv, cls, tag)) throw malformedError(`${what} missing or of the wrong type`);
  return tlv;
}

/** The raw encoding of an element (a view, not a copy). */
export function raw(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

export function content(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.contentStart, tlv.contentEnd);
}

/**
 * The value of an OCTET STRING, primitive or constructed (BER segments, possibly nested), as one
 * array. A primitive one (or a single segment) is returned as a view; segments are concatenated
 * once. The segments are walked twice (length, then copy) rather than listed: a list of millions of
 * tiny segments would take far more memory than the bytes they describe.
 */
export function octets(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  if (!tlv.constructed) return content(bytes, tlv);
  let total = 0;
  let count = 0;
  let first: Tlv | null = null;
  eachSegment(bytes, tlv, 0, (c) => {
    total += c.contentEnd - c.contentStart;
    if (count++ === 0) first = c;
  });
  if (count === 1) return content(bytes, first!);
  const out = new Uint8Array(total);
  let o = 0;
  eachSegment(bytes, tlv, 0, (c) => {
    out.set(bytes.subarray(c.contentStart, c.contentEnd), o);
    o += c.contentEnd - c.contentStart;
  });
  return out;
}

function eachSegment(bytes: Uint8Array, t: Tlv, depth: number, visit: (segment: Tlv) => void): void {
  let i = t.contentStart;
  while (i < t.contentEnd) {
    const c = readTlv(bytes, i, t.contentEnd, depth + 1);
    if (c.constructed) eachSegment(bytes, c, depth + 1, visit);
    else visit(c);
    i = c.end;
  }
}

export function oid(bytes: Uint8Array, tlv: Tlv): string {
  if (tlv.cls !== UNIVERSAL || tlv.tag !== T.OID || tlv.constructed) throw malformedError('expected an OID');
  const c = content(bytes, tlv);
  if (c.length === 0) throw malformedError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let k = 0; k < c.length; k++) {
    value = value * 128 + (c[k]! & 0x7f);
    if ((c[k]! & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

export function smallInteger(bytes: Uint8Array, tlv: Tlv): number {
  if (tlv.cls !== UNIVERSAL || tlv.tag !== T.INTEGER) throw malformedError('expected an INTEGER');
  const c = content(bytes, tlv);
  if (c.length === 0 || c.length > 6) throw malformedError('INTEGER out of range');
  let v = 0;
  for (const b of c) v = v * 256 + b;
  if (c[0]! & 0x80) v -= 2 ** (8 * c.length);
  return v;
}

/** AlgorithmIdentifier: its OID and the parameters element, if any. */
export function algorithm(bytes: Uint8Array, tlv: Tlv): { oid: string; params: Tlv | null } {
  const [o, p] = children(bytes, expect(tlv, UNIVERSAL, T.SEQUENCE, 'AlgorithmIdentifier'));
  const id = oid(bytes, expect(o, UNIVERSAL, T.OID, 'algorithm OID'));
  return { oid: id, params: p && !(p.cls === UNIVERSAL && p.tag === T.NULL) ? p : null };
}

/** DER encoding of a length. */
export function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.of(0x80 | out.length, ...out);
}

/** Re-tags an element (e.g. [0] IMPLICIT SET OF → SET OF) for signing/AAD, keeping its content. */
export function retag(bytes: Uint8Array, tlv: Tlv, identifier: number): Uint8Array {
  const body = content(bytes, tlv);
  const len = derLength(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = identifier;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}
