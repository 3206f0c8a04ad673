/**
 * The sender's text and files, read from the final (plain) MIME entity with postal-mime, after
 * our own structure walk has enforced the depth and part limits.
 */
import PostalMime from 'postal-mime';
import { base64Encode, concatBytes, latin1, sha256Hex, toHex, utf8 } from '../bytes.ts';
import { asSealpostError } from '../errors.ts';
import type { Limits } from '../limits.ts';
import type { Attachment } from '../report.ts';
import { checkStructure, decodeBody } from './entity.ts';

export interface MessageContent {
  text: string;
  html: string | null;
  attachments: Attachment[];
}

const EXTENSIONS: Record<string, string> = {
  'message/rfc822': 'eml',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/calendar': 'ics',
  'application/pdf': 'pdf',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
};

export async function extractContent(entity: Uint8Array, limits: Limits): Promise<MessageContent> {
  const structure = checkStructure(entity, limits);
  // Large and quoted-printable attachments: decode them ourselves and give postal-mime a small marker
  // in their place (it still reads their headers and file names, and keeps document order).
  const substitutes = new Map<string, Uint8Array>();
  let parsed = entity;
  if (structure.bulky.length > 0) {
    const nonce = toHex(crypto.getRandomValues(new Uint8Array(12)));
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const [i, part] of structure.bulky.entries()) {
      const marker = `SEALPOSTBULKY${nonce}${i}`;
      substitutes.set(marker, decodeBody(part.entity));
      pieces.push(entity.subarray(from, part.start));
      const encoding = part.entity.transferEncoding;
      // In quoted-printable the marker ends in a soft line break, or postal-mime adds a newline to it.
      pieces.push(
        utf8(
          encoding === 'base64'
            ? base64Encode(utf8(marker))
            : encoding === 'quoted-printable'
              ? `${marker}=`
              : marker,
        ),
      );
      from = part.end;
    }
    pieces.push(entity.subarray(from));
    parsed = concatBytes(pieces);
  }
  let email;
  try {
    email = await PostalMime.parse(parsed, {
      attachmentEncoding: 'arraybuffer',
      forceRfc822Attachments: true,
      maxNestingDepth: limits.maxMimeDepth + 1,
      maxHeadersSize: limits.maxHeaderBytes,
    });
  } catch (e) {
    throw asSealpostError(e, 'malformed', 'The message content');
  }
  const attachments: Attachment[] = [];
  let n = 0;
  let messageIndex = 0;
  for (const a of email.attachments) {
    n++;
    // postal-mime rewrites the line ends of attached messages; a forwarded message must keep its
    // exact bytes (its own signature may depend on them), so take those from our structure walk.
    const exact = a.mimeType === 'message/rfc822' ? structure.messageParts[messageIndex++] : undefined;
    const raw = a.content instanceof ArrayBuffer ? new Uint8Array(a.content) : null;
    const substitute = raw && raw.length < 64 ? substitutes.get(latin1(raw)) : undefined;
    const content = substitute
      ? substitute
      : exact
        ? exact
        : a.content instanceof Uint8Array
          ? a.content
          : typeof a.content === 'string'
            ? new TextEncoder().encode(a.content)
            : new Uint8Array(a.content);
    const contentType = a.mimeType || 'application/octet-stream';
    attachments.push({
      filename: safeFilename(a.filename, contentType, n),
      contentType,
      size: content.length,
      sha256: await sha256Hex(content),
      disposition: a.disposition === 'inline' ? 'inline' : 'attachment',
      contentId: a.contentId ?? null,
      content,
    });
  }
  return {
    text: email.text ?? '',
    html: structure.hasHtml ? (email.html ?? null) : null,
    attachments,
  };
}

/**
 * A file name that is safe to offer for saving: no directories, no control characters, never empty.
 * The original name is kept as far as it is harmless.
 */
export function safeFilename(name: string | null | undefined, contentType: string, index: number): string {
  let clean = Array.from(name ?? '')
    // Control characters, and the bidirectional controls that make "fdp.exe" look like "exe.pdf".
    .filter(
      (ch) =>
        ch.charCodeAt(0) >= 0x20 && !/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(ch),
    )
    .join('')
    .split(/[\\/]/)
    .pop()!
    .trim()
    .replace(/^\.+/, '');
  if (clean.length > 200) {
    const dot = clean.lastIndexOf('.');
    const ext = dot > 0 && clean.length - dot <= 10 ? clean.slice(dot) : '';
    clean = clean.slice(0, 200 - ext.length) + ext;
  }
  if (!clean) clean = `attachment-${index}.${EXTENSIONS[contentType] ?? 'bin'}`;
  return clean;
}
