/**
 * Tells a secure message from a plain one by its outer structure: the headers and a bounded scan of
 * the start of the body. The server's submission API and the SMTP relay use it before storing a
 * message; it never decrypts or fully parses anything.
 */
import { parseAddresses, type Mailbox } from './mime/addresses.ts';
import { decodeBody, parseEntity, type Entity } from './mime/entity.ts';
import { decodeHeaderText, headerValue, parseHeaderBlock, type HeaderField } from './mime/headers.ts';
import type { Protocol } from './report.ts';
import { leadingArmor, shapeOf } from './shape.ts';

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

/**
 * Classifies a message from its first bytes (the header block plus up to CLASSIFY_SCAN_BYTES of
 * body are used; passing more is harmless). Never throws.
 *
 * The shape comes from core's one table (shape.ts), the one the peel loop dispatches on: what is
 * secure here is opened as a secure layer by openMessage, and what is plain here is what it shows as
 * plain. Sub-kinds the loop reads from the content (an S/MIME object's type) are taken from the
 * headers here, which is all a classifier that never decodes whole bodies can see.
 */
export function classifyMessage(head: Uint8Array): Classification {
  let entity: Entity;
  try {
    const cap = 2 * 1024 * 1024;
    entity = parseEntity(head.subarray(0, Math.min(head.length, cap)), { maxHeaderBytes: cap });
  } catch {
    return plain('', 'The header block is too large to be an e-mail message.');
  }
  const ct = entity.contentType;
  const type = ct.value;
  const name = (ct.params.name ?? entity.contentDisposition.params.filename ?? '').toLowerCase();

  switch (shapeOf(entity)) {
    case 'cms': {
      const smimeType = (ct.params['smime-type'] ?? '').toLowerCase();
      if (smimeType === 'signed-data' || name.endsWith('.p7s'))
        return secure('smime', type, false, true, 'S/MIME opaque signed data');
      if (smimeType === 'certs-only' || name.endsWith('.p7c'))
        return plain(type, 'An S/MIME certificate bundle (certs-only) carries no message.');
      if (smimeType === 'compressed-data')
        return secure('smime', type, false, false, 'S/MIME compressed data');
      return secure(
        'smime',
        type,
        true,
        false,
        type === 'application/octet-stream'
          ? 'S/MIME .p7m body'
          : smimeType
            ? `S/MIME ${smimeType}`
            : 'S/MIME (application/pkcs7-mime)',
      );
    }
    case 'multipart-signed': {
      const protocol = (ct.params.protocol ?? '').toLowerCase();
      if (protocol === 'application/pkcs7-signature' || protocol === 'application/x-pkcs7-signature')
        return secure('smime', type, false, true, 'S/MIME detached signature');
      if (protocol === 'application/pgp-signature')
        return secure('pgp-mime', type, false, true, 'PGP/MIME signature');
      return plain(type, `multipart/signed with an unknown protocol "${protocol}"`);
    }
    case 'multipart-encrypted': {
      const protocol = (ct.params.protocol ?? '').toLowerCase();
      if (protocol === 'application/pgp-encrypted')
        return secure('pgp-mime', type, true, false, 'PGP/MIME encrypted');
      return plain(type, `multipart/encrypted with an unknown protocol "${protocol}"`);
    }
    case 'openpgp-body':
      return secure('openpgp-inline', type, true, false, 'OpenPGP message body');
    case 'text': {
      // As the peel loop does: the decoded body must start with armor (white space aside).
      const armor = leadingArmor(scanText(entity));
      if (armor?.kind === 'message')
        return secure('openpgp-inline', type, true, false, 'inline OpenPGP message armor');
      if (armor?.kind === 'signed')
        return secure('openpgp-inline', type, false, true, 'inline OpenPGP signed text');
      return plain(type, 'a text body that does not start with OpenPGP armor');
    }
    case 'message':
      return plain(type, 'a forwarded message (message/rfc822) is plain at the outer level');
    case 'content':
      return plain(
        type,
        type.startsWith('multipart/')
          ? `${type} is not a secure layer (secure parts inside it are opened as attachments, not as the message)`
          : 'no S/MIME or OpenPGP structure found',
      );
  }
}

/** The start of a text body, transfer-decoded (at most CLASSIFY_SCAN_BYTES of it). */
function scanText(entity: Entity): Uint8Array {
  const body = entity.body.subarray(0, CLASSIFY_SCAN_BYTES);
  try {
    return decodeBody({ ...entity, body });
  } catch {
    return new Uint8Array(0); // an unknown transfer encoding: the peel loop cannot read it either
  }
}

function secure(
  protocol: Protocol,
  contentType: string,
  encrypted: boolean,
  signed: boolean,
  reason: string,
): Classification {
  return { protocol, encrypted, signed, contentType, reason };
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
