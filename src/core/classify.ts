/**
 * Tells a secure message from a plain one by its outer structure: the headers and a bounded scan of
 * the start of the body. The server's submission API and the SMTP relay use it before storing a
 * message; it never decrypts or fully parses anything.
 */
import { latin1 } from './bytes.ts';
import { parseAddresses, type Mailbox } from './mime/addresses.ts';
import {
  decodeHeaderText,
  headerValue,
  parseHeaderBlock,
  parseStructured,
  type HeaderField,
} from './mime/headers.ts';
import type { Protocol } from './report.ts';

export interface Classification {
  protocol: Protocol;
  /** The outer layer is (or, for inline armor, very likely is) encrypted. */
  encrypted: boolean;
  /** The outer layer is a signature (for encrypted messages, inner signatures are not visible). */
  signed: boolean;
  /** Outer Content-Type, lower case, e.g. "application/pkcs7-mime". */
  contentType: string;
  /** Why it was classified so, in words (for logs and refusals). */
  reason: string;
}

export interface EnvelopeHeaders {
  from: Mailbox | null;
  to: Mailbox[];
  cc: Mailbox[];
  subject: string;
  date: string | null;
  messageId: string | null;
}

/** How much of the body `classifyMessage` looks at for inline OpenPGP armor. */
export const CLASSIFY_SCAN_BYTES = 256 * 1024;

const PGP_MESSAGE = '-----BEGIN PGP MESSAGE-----';
const PGP_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';

/**
 * Classifies a message from its first bytes (the header block plus up to CLASSIFY_SCAN_BYTES of
 * body are used; passing more is harmless). Never throws.
 */
export function classifyMessage(head: Uint8Array): Classification {
  let block;
  try {
    block = parseHeaderBlock(head.subarray(0, Math.min(head.length, 2 * 1024 * 1024)));
  } catch {
    return plain('', 'The header block is too large to be an e-mail message.');
  }
  const ct = parseStructured(headerValue(block.fields, 'content-type'));
  const disposition = parseStructured(headerValue(block.fields, 'content-disposition'));
  const name = (ct.params.name ?? disposition.params.filename ?? '').toLowerCase();
  const type = ct.value;

  if (type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime') {
    const smimeType = (ct.params['smime-type'] ?? '').toLowerCase();
    if (smimeType === 'signed-data' || name.endsWith('.p7s'))
      return {
        protocol: 'smime',
        encrypted: false,
        signed: true,
        contentType: type,
        reason: 'S/MIME opaque signed data',
      };
    if (smimeType === 'certs-only' || name.endsWith('.p7c'))
      return plain(type, 'An S/MIME certificate bundle (certs-only) carries no message.');
    if (smimeType === 'compressed-data')
      return {
        protocol: 'smime',
        encrypted: false,
        signed: false,
        contentType: type,
        reason: 'S/MIME compressed data',
      };
    return {
      protocol: 'smime',
      encrypted: true,
      signed: false,
      contentType: type,
      reason: smimeType ? `S/MIME ${smimeType}` : 'S/MIME (application/pkcs7-mime)',
    };
  }
  if (type === 'application/octet-stream' && name.endsWith('.p7m')) {
    return {
      protocol: 'smime',
      encrypted: true,
      signed: false,
      contentType: type,
      reason: 'S/MIME .p7m body',
    };
  }
  if (type === 'multipart/signed') {
    const protocol = (ct.params.protocol ?? '').toLowerCase();
    if (protocol === 'application/pkcs7-signature' || protocol === 'application/x-pkcs7-signature')
      return {
        protocol: 'smime',
        encrypted: false,
        signed: true,
        contentType: type,
        reason: 'S/MIME detached signature',
      };
    if (protocol === 'application/pgp-signature')
      return {
        protocol: 'pgp-mime',
        encrypted: false,
        signed: true,
        contentType: type,
        reason: 'PGP/MIME signature',
      };
    return plain(type, `multipart/signed with an unknown protocol "${protocol}"`);
  }
  if (type === 'multipart/encrypted') {
    const protocol = (ct.params.protocol ?? '').toLowerCase();
    if (protocol === 'application/pgp-encrypted')
      return {
        protocol: 'pgp-mime',
        encrypted: true,
        signed: false,
        contentType: type,
        reason: 'PGP/MIME encrypted',
      };
    return plain(type, `multipart/encrypted with an unknown protocol "${protocol}"`);
  }
  if (
    type === 'application/pgp-encrypted' ||
    type === 'application/pgp' ||
    name.endsWith('.pgp') ||
    name.endsWith('.gpg')
  ) {
    return {
      protocol: 'openpgp-inline',
      encrypted: true,
      signed: false,
      contentType: type,
      reason: 'OpenPGP message body',
    };
  }
  // Inline OpenPGP: armor in a text body (or the first text part of a multipart), in a bounded scan.
  if (type === '' || type.startsWith('text/') || type.startsWith('multipart/')) {
    const body = latin1(
      head,
      block.bodyOffset,
      Math.min(head.length, block.bodyOffset + CLASSIFY_SCAN_BYTES),
    );
    const m = body.indexOf(PGP_MESSAGE);
    const s = body.indexOf(PGP_SIGNED);
    if (m >= 0 && (s < 0 || m < s) && atLineStart(body, m))
      return {
        protocol: 'openpgp-inline',
        encrypted: true,
        signed: false,
        contentType: type || 'text/plain',
        reason: 'inline OpenPGP message armor',
      };
    if (s >= 0 && atLineStart(body, s))
      return {
        protocol: 'openpgp-inline',
        encrypted: false,
        signed: true,
        contentType: type || 'text/plain',
        reason: 'inline OpenPGP signed text',
      };
  }
  return plain(type || 'text/plain', 'no S/MIME or OpenPGP structure found');
}

function atLineStart(text: string, index: number): boolean {
  return index === 0 || text[index - 1] === '\n';
}

function plain(contentType: string, reason: string): Classification {
  return { protocol: 'plain', encrypted: false, signed: false, contentType, reason };
}

/** The outer addressing headers of a message, decoded. Never throws. */
export function readEnvelopeHeaders(head: Uint8Array): EnvelopeHeaders {
  let fields: HeaderField[];
  try {
    fields = parseHeaderBlock(head.subarray(0, Math.min(head.length, 2 * 1024 * 1024))).fields;
  } catch {
    fields = [];
  }
  const all = (name: string): string | null => {
    const values = fields.filter((f) => f.name === name).map((f) => f.value);
    return values.length ? values.join(', ') : null;
  };
  const date = headerValue(fields, 'date');
  const parsedDate = date ? new Date(date) : null;
  return {
    from: parseAddresses(headerValue(fields, 'from'))[0] ?? null,
    to: parseAddresses(all('to')),
    cc: parseAddresses(all('cc')),
    subject: decodeHeaderText(headerValue(fields, 'subject')),
    date: parsedDate && !Number.isNaN(parsedDate.getTime()) ? parsedDate.toISOString() : null,
    messageId: headerValue(fields, 'message-id'),
  };
}
