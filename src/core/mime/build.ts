/**
 * A small MIME writer for messages Sealpost builds in core (secure reply in the browser, gateway
 * encryption on the server): CRLF line ends, 76-column base64, RFC 2047 encoded words for non-ASCII
 * header text and RFC 2231 file names. Our own (see DESIGN.md): nodemailer's composer is Node-only and
 * `mimetext` writes LF line ends and one-line base64, which breaks signatures.
 *
 * Header protection follows RFC 9788: the cryptographic payload (the part inside every signature and
 * encryption layer) carries the true Subject/From/To/Cc/Date/Message-ID and threading fields and an
 * `hp` Content-Type parameter; for encrypted messages it also records in `HP-Outer` fields what the
 * outer header section shows, and the outer Subject is the placeholder "...".
 */
import { base64Encode, utf8 } from '../bytes.ts';

export interface ComposeAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/** What the author wrote. Addresses are RFC 5322 mailboxes ("Name <a@b>" or "a@b"). */
export interface ComposeInput {
  from: string;
  to: readonly string[];
  cc?: readonly string[];
  subject: string;
  /** Default: now. */
  date?: Date;
  /** With angle brackets; default: a random one at the From address's domain. */
  messageId?: string;
  inReplyTo?: string;
  references?: readonly string[];
  /** Extra transport header fields for the outer header section (e.g. Reply-To), name → value. */
  outerHeaders?: Readonly<Record<string, string>>;
  text: string;
  attachments?: readonly ComposeAttachment[];
}

const PROTECTED_SUBJECT = '...';

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

/** RFC 2047 encoded words (UTF-8, base64) when the text is not plain printable ASCII. */
export function encodeHeaderText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  // Each encoded word stays under 75 characters: 45 bytes of UTF-8 at most (split on code points).
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (utf8(chunk + ch).length > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${base64Encode(utf8(w))}?=`).join('\r\n ');
}

/** A mailbox whose display name may be non-ASCII: the name becomes an encoded word. */
function encodeMailbox(mailbox: string): string {
  if (/^[\x20-\x7e]*$/.test(mailbox)) return mailbox;
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(mailbox);
  if (!m) return mailbox; // an internationalised address itself (RFC 6532): sent as is
  return `${encodeHeaderText(m[1]!)} <${m[2]}>`;
}

function addressList(list: readonly string[]): string {
  return list.map(encodeMailbox).join(',\r\n ');
}

function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(
    d.getUTCHours(),
  )}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function domainOf(mailbox: string): string {
  const m = /@([^>\s]+)>?\s*$/.exec(mailbox);
  return m?.[1] ?? 'sealpost.invalid';
}

/** RFC 2231 parameter when the value is not a plain token-ish ASCII string. */
function param(name: string, value: string): string {
  if (/^[\x20-\x7e]*$/.test(value) && !/["\\]/.test(value)) return `${name}="${value}"`;
  const enc = Array.from(utf8(value), (b) =>
    /[A-Za-z0-9!#$&+.^_`|~-]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
  return `${name}*=UTF-8''${enc}`;
}

interface Resolved {
  date: string;
  messageId: string;
}

function resolve(input: ComposeInput): Resolved {
  return {
    date: rfc5322Date(input.date ?? new Date()),
    messageId: input.messageId ?? `<${randomHex(16)}@${domainOf(input.from)}>`,
  };
}

/** The header fields RFC 9788 protects, in the order we write them (name, value already encoded). */
function protectedFields(input: ComposeInput, r: Resolved, subject: string): [string, string][] {
  const f: [string, string][] = [
    ['Date', r.date],
    ['From', encodeMailbox(input.from)],
    ['To', addressList(input.to)],
  ];
  if (input.cc?.length) f.push(['Cc', addressList(input.cc)]);
  f.push(['Subject', subject], ['Message-ID', r.messageId]);
  if (input.inReplyTo) f.push(['In-Reply-To', input.inReplyTo]);
  if (input.references?.length) f.push(['References', input.references.join('\r\n ')]);
  return f;
}

/** A text/plain part: 7bit when it is short-lined printable ASCII, else base64 of the CRLF text. */
function textPart(text: string): string {
  const body = text.replace(/\r?\n/g, '\r\n');
  const plain = /^[\t\r\n\x20-\x7e]*$/.test(body) && body.split('\r\n').every((l) => l.length <= 76);
  const head = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${plain ? '7bit' : 'base64'}\r\n`;
  if (plain) return `${head}\r\n${body.endsWith('\r\n') ? body : `${body}\r\n`}`;
  return `${head}\r\n${base64Encode(utf8(body), 76, '\r\n')}\r\n`;
}

/**
 * The cryptographic payload with its protected header section (RFC 9788 §2): Content-Type carries
 * `hp="cipher"` (encrypted) or `hp="clear"` (signed only); for `cipher`, `HP-Outer` fields copy what
 * the outer header section shows (`outerHeaderSection` gives those lines).
 */
export function buildPayload(
  input: ComposeInput,
  hp: 'cipher' | 'clear',
): { payload: Uint8Array; outer: Uint8Array } {
  const r = resolve(input);
  const inner = protectedFields(input, r, encodeHeaderText(input.subject));
  const outerSubject = hp === 'cipher' ? PROTECTED_SUBJECT : encodeHeaderText(input.subject);
  const outer = protectedFields(input, r, outerSubject);
  const lines: string[] = [];
  for (const [n, v] of inner) lines.push(`${n}: ${v}`);
  if (hp === 'cipher') for (const [n, v] of outer) lines.push(`HP-Outer: ${n}: ${v}`);
  lines.push('MIME-Version: 1.0');
  let body: string;
  const attachments = input.attachments ?? [];
  if (attachments.length === 0) {
    body = textPart(input.text).replace('charset=utf-8', `charset=utf-8; hp="${hp}"`);
  } else {
    const boundary = `=_sealpost_${randomHex(12)}`;
    const parts = [textPart(input.text)];
    for (const a of attachments) {
      parts.push(
        `Content-Type: ${a.contentType}; ${param('name', a.filename)}\r\n` +
          `Content-Disposition: attachment; ${param('filename', a.filename)}\r\n` +
          `Content-Transfer-Encoding: base64\r\n\r\n` +
          base64Encode(a.content, 76, '\r\n') +
          '\r\n',
      );
    }
    body =
      `Content-Type: multipart/mixed; boundary="${boundary}"; hp="${hp}"\r\n\r\n` +
      parts.map((p) => `--${boundary}\r\n${p}`).join('') +
      `--${boundary}--\r\n`;
  }
  const payload = utf8(lines.join('\r\n') + '\r\n' + body);
  const outerLines = outer.map(([n, v]) => `${n}: ${v}`);
  for (const [n, v] of Object.entries(input.outerHeaders ?? {})) outerLines.push(`${n}: ${v}`);
  outerLines.push('MIME-Version: 1.0');
  return { payload, outer: utf8(outerLines.join('\r\n') + '\r\n') };
}
