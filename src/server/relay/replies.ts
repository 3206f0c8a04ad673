/**
 * SMTP replies at the relay's edge. Handlers throw (or call back with) an SmtpReply; a ServerError
 * from the submission service, or anything unexpected, is mapped here and nowhere else. Every reply
 * carries its RFC 3463 enhanced status code in the text ("550 5.7.1 …"); the relay's connection wrapper
 * sends it as is instead of smtp-server's generic per-code table.
 */
import { ServerError, type ServerErrorCode } from '../errors.ts';
import { asStoreFault } from '../store/faults.ts';

export class SmtpReply extends Error {
  readonly responseCode: number;
  readonly enhanced: string;
  constructor(responseCode: number, enhanced: string, text: string) {
    super(`${enhanced} ${text.replace(/[\r\n]+/g, ' ')}`);
    this.name = 'SmtpReply';
    this.responseCode = responseCode;
    this.enhanced = enhanced;
  }
}

export const reply = {
  authRequired: () =>
    new SmtpReply(530, '5.7.0', 'Authentication required: log in with your e-mail address and API key.'),
  tlsRequired: () => new SmtpReply(538, '5.7.11', 'Encryption required: issue STARTTLS first.'),
  badCredentials: () => new SmtpReply(535, '5.7.8', 'Authentication failed: unknown address or API key.'),
  relayDenied: () => new SmtpReply(550, '5.7.1', 'Relaying denied: authenticate or use a trusted network.'),
  senderMismatch: (address: string) =>
    new SmtpReply(553, '5.7.1', `Sender address rejected: you may send as ${address} only.`),
  badAddress: (what: 'sender' | 'recipient') =>
    what === 'sender'
      ? new SmtpReply(553, '5.1.7', 'Bad sender address syntax.')
      : new SmtpReply(553, '5.1.3', 'Bad recipient address syntax.'),
  tooManyRecipients: (max: number) =>
    new SmtpReply(452, '4.5.3', `Too many recipients: at most ${max} per message.`),
  tooLarge: (max: number) =>
    new SmtpReply(552, '5.3.4', `Message exceeds the fixed maximum message size (${max} bytes).`),
  tooManyConnections: () =>
    new SmtpReply(421, '4.7.0', 'Too many connections from your address: try again later.'),
  busy: () => new SmtpReply(421, '4.3.2', 'Too many connections: try again later.'),
  dataTimeout: () => new SmtpReply(421, '4.4.2', 'The message transfer took too long: closing.'),
  noUpstream: () =>
    new SmtpReply(
      550,
      '5.7.1',
      'This server takes secure (S/MIME or OpenPGP) mail only: it has no upstream to forward other mail to.',
    ),
  notSender: (address: string) =>
    new SmtpReply(
      550,
      '5.7.1',
      `${address.slice(0, 100)} is not a registered sender: secure mail is diverted only for senders (sealpost senders add).`,
    ),
  localError: () =>
    new SmtpReply(451, '4.3.0', 'Local error: the message was not stored; please try again later.'),
  tooManyLogins: () =>
    new SmtpReply(
      454,
      '4.7.0',
      'Too many failed logins from your address or for this account: try again later.',
    ),
  headerFromMismatch: (address: string) =>
    new SmtpReply(
      550,
      '5.7.1',
      `The message's From header must be your address ${address} (as the envelope).`,
    ),
  authUnavailable: () =>
    new SmtpReply(
      454,
      '4.7.0',
      'Temporary authentication failure: the store is unavailable; try again later.',
    ),
  insufficientStorage: () =>
    new SmtpReply(452, '4.3.1', 'Insufficient system storage: the message was not stored; try again later.'),
  unavailable: () =>
    new SmtpReply(
      451,
      '4.3.0',
      'The message store is unavailable: the message was not stored; try again later.',
    ),
  wksAlone: () =>
    new SmtpReply(
      452,
      '4.5.3',
      'A Web Key Service mail goes to the submission address alone: send the other recipients separately.',
    ),
  rateLimited: () => new SmtpReply(451, '4.7.1', 'Too many messages from this sender: retry in a minute.'),
};

const BY_CODE: Partial<Record<ServerErrorCode, (e: ServerError) => SmtpReply>> = {
  'too-large': (e) => reply.tooLarge(Number(e.details.limit ?? 0)),
  'too-many-recipients': (e) => new SmtpReply(552, '5.5.3', e.message),
  'no-recipients': (e) => new SmtpReply(554, '5.5.1', e.message),
  'bad-request': (e) => new SmtpReply(554, '5.6.0', e.message),
  'not-secure': (e) => new SmtpReply(550, '5.7.1', e.message),
  unauthorized: () => reply.authRequired(),
  forbidden: () => reply.relayDenied(),
  'rate-limited': () => reply.rateLimited(),
  'insufficient-storage': () => reply.insufficientStorage(),
  unavailable: () => reply.unavailable(),
};

/** The reply for an error thrown while taking a message; unknown errors become 451 (retry later). */
export function toSmtpReply(e: unknown): SmtpReply {
  if (e instanceof SmtpReply) return e;
  if (e instanceof ServerError) return BY_CODE[e.code]?.(e) ?? reply.localError();
  const fault = asStoreFault(e);
  if (fault) return fault.code === 'insufficient-storage' ? reply.insufficientStorage() : reply.unavailable();
  return reply.localError();
}
