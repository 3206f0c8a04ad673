/**
 * The one table of message shapes: which secure layer (if any) an entity is, from its Content-Type,
 * its file name and — for text — whether its body starts with OpenPGP armor. The peel loop
 * (open.ts) dispatches on it, and the classifier (classify.ts) that the server's submission API and
 * SMTP relay use to enforce "secure mail only" reads the same table: a message the server accepts as
 * secure is one the recipient's browser opens as secure, never as plain text (a plain file named
 * x.pgp, armor after a greeting, or a multipart/encrypted nested in a multipart/mixed used to be
 * "secure" to the server and plain to the opener).
 */
import { latin1 } from './bytes.ts';
import type { StructuredValue } from './mime/headers.ts';

/** What the peel loop sees in an entity: a secure layer of some kind, text, a message, or content. */
export type Shape =
  'cms' | 'multipart-signed' | 'multipart-encrypted' | 'openpgp-body' | 'text' | 'message' | 'content';

export interface ShapeInput {
  /** Content-Type with its value lower case (text/plain when absent, as parseEntity makes it). */
  contentType: StructuredValue;
  contentDisposition: StructuredValue;
}

export function shapeOf(entity: ShapeInput): Shape {
  const type = entity.contentType.value;
  const filename = (
    entity.contentType.params.name ??
    entity.contentDisposition.params.filename ??
    ''
  ).toLowerCase();
  const octets = type === 'application/octet-stream';
  if (
    type === 'application/pkcs7-mime' ||
    type === 'application/x-pkcs7-mime' ||
    (octets && filename.endsWith('.p7m'))
  )
    return 'cms';
  if (type === 'multipart/signed') return 'multipart-signed';
  if (type === 'multipart/encrypted') return 'multipart-encrypted';
  if (
    type === 'application/pgp-encrypted' ||
    type === 'application/pgp' ||
    (octets && (filename.endsWith('.pgp') || filename.endsWith('.gpg')))
  )
    return 'openpgp-body';
  if (type === 'text/plain') return 'text';
  if (type === 'message/rfc822' || type === 'message/global') return 'message';
  return 'content';
}

export const PGP_MESSAGE = '-----BEGIN PGP MESSAGE-----';
export const PGP_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';

export interface Armor {
  kind: 'message' | 'signed';
  start: number;
  /** After the END line, or the body's end when there is none. */
  end: number;
}

/**
 * An OpenPGP armor block that starts the text (after white space only). Armor further down (after a
 * greeting, a quote) is text: the opener shows it as text, so the classifier does not call it secure.
 */
export function leadingArmor(body: Uint8Array): Armor | null {
  let i = 0;
  while (i < body.length && (body[i] === 32 || body[i] === 9 || body[i] === 13 || body[i] === 10)) i++;
  const head = latin1(body, i, Math.min(body.length, i + 40));
  const kind = head.startsWith(PGP_MESSAGE) ? 'message' : head.startsWith(PGP_SIGNED) ? 'signed' : null;
  if (!kind) return null;
  const text = latin1(body, i);
  const endMarker = kind === 'message' ? '-----END PGP MESSAGE-----' : '-----END PGP SIGNATURE-----';
  const end = text.indexOf(endMarker);
  return { kind, start: i, end: end < 0 ? body.length : i + end + endMarker.length };
}
