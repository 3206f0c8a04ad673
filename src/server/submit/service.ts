/**
 * Submission: a sender's message arrives as a byte stream; it is written to the store's staging area
 * as it arrives (never buffered whole), counted against the size limit while streaming, classified
 * from its first bytes with core's classifier, and committed with one delivery (and one queued
 * notification) per recipient. The caller answers 201 only after `submit` resolves: by then the
 * bytes are fsynced and the metadata committed.
 */
import {
  CLASSIFY_SCAN_BYTES,
  classifyMessage,
  formatMailbox,
  readEnvelopeHeaders,
} from '../../core/index.ts';
import type { Classification } from '../../core/index.ts';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { hashToken, newLinkSecret, randomId } from '../secrets.ts';
import { isStoreFault, rethrowAsFault } from '../store/faults.ts';
import type { BodyWriter, NewMail, SenderRecord } from '../store/port.ts';

/** How often (in bytes received) an upload checks the reserve of free space again. */
const DISK_CHECK_BYTES = 8 * 1024 * 1024;

/** How much of the start of a message is kept for classification and its outer headers. */
export const HEAD_BYTES = CLASSIFY_SCAN_BYTES + 768 * 1024;

export interface SubmitInput {
  sender: SenderRecord;
  body: AsyncIterable<Uint8Array>;
  /** Content-Length when the client declared one. */
  declaredLength: number | null;
  /** Recipients given explicitly (?to=); null = the message's To and Cc. */
  to: string[] | null;
  /** Expiry asked for: a duration in ms from now, or null for the default. */
  expiresInMs: number | null;
  /** Receipt asked for explicitly (?receipt=); null = as the message says. */
  receipt: boolean | null;
}

export interface SubmitResult {
  id: string;
  size: number;
  protocol: string;
  encrypted: boolean;
  signed: boolean;
  expiresAt: string;
  deliveries: { id: string; recipient: string }[];
}

/** The sealed payload of a notification: the link secret, needed once to write the mail. */
export interface NotificationPayload {
  secret: string;
}

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

/**
 * Control characters (a NUL, a DEL, a bare CR would end up in headers, logs and SMTP commands) and
 * `%` (percent-escapes, and the "percent hack" that turns user%host@relay into relaying through us)
 * are refused outright.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const REFUSED_IN_ADDRESS = /[\x00-\x1f\x7f%]/;

export function normalizeEmail(s: string): string | null {
  if (REFUSED_IN_ADDRESS.test(s)) return null;
  const t = s.trim().toLowerCase();
  return EMAIL.test(t) && t.length <= 254 ? t : null;
}

/** Does the header block (up to the first empty line) have a field of this name? */
function hasHeader(head: Uint8Array, name: string): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const block = end < 0 ? text : text.slice(0, end);
  return new RegExp(`^${name}[ \\t]*:`, 'im').test(block);
}

interface HeadDecision {
  classification: Classification;
  recipients: string[];
  fromHeader: string | null;
  subject: string;
  headerDate: string | null;
  headerMessageId: string | null;
  receiptAsked: boolean;
}

export class SubmissionService {
  constructor(private readonly ctx: ServerContext) {}

  private decide(head: Uint8Array, input: SubmitInput): HeadDecision {
    const { config } = this.ctx;
    const classification = classifyMessage(head);
    if (classification.protocol === 'plain' && !config.acceptPlain)
      throw new ServerError(
        'not-secure',
        `The message is not S/MIME, PGP/MIME or OpenPGP (${classification.reason}); this server accepts secure messages only.`,
      );
    const env = readEnvelopeHeaders(head);
    let recipients: string[];
    if (input.to) {
      recipients = input.to.map((r) => {
        const n = normalizeEmail(r);
        if (!n) throw new ServerError('bad-request', `"${r.slice(0, 100)}" is not an e-mail address.`);
        return n;
      });
    } else {
      recipients = [...env.to, ...env.cc]
        .map((m) => normalizeEmail(m.address))
        .filter((a): a is string => a !== null);
    }
    recipients = [...new Set(recipients)];
    if (recipients.length === 0)
      throw new ServerError(
        'no-recipients',
        'The message names no recipient: add To/Cc headers or give ?to=address (repeatable).',
      );
    if (recipients.length > config.maxRecipients)
      throw new ServerError(
        'too-many-recipients',
        `The message has ${recipients.length} recipients; this server accepts at most ${config.maxRecipients}.`,
      );
    return {
      classification,
      recipients,
      fromHeader: env.from ? formatMailbox(env.from) : null,
      subject: env.subject.slice(0, 500),
      headerDate: env.date,
      headerMessageId: env.messageId?.slice(0, 500) ?? null,
      receiptAsked: hasHeader(head, 'disposition-notification-to'),
    };
  }

  async submit(input: SubmitInput): Promise<SubmitResult> {
    const { config, store, metrics } = this.ctx;
    const max = config.maxMessageSize;
    if (input.declaredLength !== null && input.declaredLength > max) throw tooLarge(max);
    if (input.expiresInMs !== null && (input.expiresInMs <= 0 || input.expiresInMs > config.maxExpiryMs))
      throw new ServerError(
        'bad-request',
        `The expiry must be between 1 second and ${Math.floor(config.maxExpiryMs / 86_400_000)} days.`,
      );

    const headChunks: Buffer[] = [];
    let headLength = 0;
    let decision: HeadDecision | null = null;
    let size = 0;
    let writer: BodyWriter | null = null;
    metrics.inflightUploads.inc();
    try {
      // Below the reserve of free space, refuse before reading anything (and again every
      // DISK_CHECK_BYTES: the reserve is for the metadata of what was accepted already).
      await this.ctx.disk.assertRoom(input.declaredLength ?? 0);
      writer = await store.bodies.createWriter().catch(rethrowAsFault);
      let nextDiskCheck = DISK_CHECK_BYTES;
      for await (const chunk of input.body) {
        size += chunk.length;
        if (size > max) throw tooLarge(max);
        if (decision === null) {
          headChunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          headLength += chunk.length;
          if (headLength >= HEAD_BYTES)
            decision = this.decide(new Uint8Array(Buffer.concat(headChunks)), input);
        }
        if (size >= nextDiskCheck) {
          nextDiskCheck = size + DISK_CHECK_BYTES;
          await this.ctx.disk.assertRoom();
        }
        await writer.write(chunk).catch(rethrowAsFault);
      }
      if (size === 0)
        throw new ServerError('bad-request', 'The request body is empty: send the message as the body.');
      if (decision === null) decision = this.decide(new Uint8Array(Buffer.concat(headChunks)), input);
      headChunks.length = 0;
      const staged = await writer.finish().catch(rethrowAsFault);

      const now = this.ctx.now();
      const id = randomId(16);
      const deliveries = decision.recipients.map((recipient) => ({
        id: randomId(16),
        recipient,
        secret: newLinkSecret(),
      }));
      const mails: NewMail[] = deliveries.map((d) => ({
        id: randomId(16),
        kind: 'notification',
        deliveryId: d.id,
        recipient: d.recipient,
        payload: this.ctx.sealer.seal(
          new TextEncoder().encode(JSON.stringify({ secret: d.secret } satisfies NotificationPayload)),
        ),
      }));
      const expiresAt = now + (input.expiresInMs ?? config.defaultExpiryMs);
      const c = decision.classification;
      await store.submissions
        .create(
          {
            id,
            senderId: input.sender.id,
            size: staged.size,
            sha256: staged.sha256,
            protocol: c.protocol,
            encrypted: c.encrypted,
            signed: c.signed,
            contentType: c.contentType,
            fromHeader: decision.fromHeader,
            subject: decision.subject,
            headerDate: decision.headerDate,
            headerMessageId: decision.headerMessageId,
            createdAt: now,
            expiresAt,
            receiptRequested: input.receipt ?? decision.receiptAsked,
            deliveries: deliveries.map((d) => ({
              id: d.id,
              recipient: d.recipient,
              secretHash: hashToken(d.secret),
            })),
            mails,
          },
          staged,
        )
        .catch(rethrowAsFault);
      writer = null;
      metrics.submissions.inc({ result: 'stored' });
      metrics.submittedBytes.inc(staged.size);
      this.ctx.logger.info(
        {
          messageId: id,
          sender: input.sender.id,
          size: staged.size,
          protocol: c.protocol,
          recipients: deliveries.length,
        },
        'message stored',
      );
      this.ctx.kickOutbox();
      return {
        id,
        size: staged.size,
        protocol: c.protocol,
        encrypted: c.encrypted,
        signed: c.signed,
        expiresAt: new Date(expiresAt).toISOString(),
        deliveries: deliveries.map((d) => ({ id: d.id, recipient: d.recipient })),
      };
    } catch (e) {
      metrics.submissions.inc({ result: e instanceof ServerError || isStoreFault(e) ? e.code : 'error' });
      if (writer) await writer.abort().catch(() => undefined);
      if (e instanceof ServerError || isStoreFault(e)) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (
        code === 'ECONNRESET' ||
        code === 'ERR_STREAM_PREMATURE_CLOSE' ||
        (e as Error).message === 'aborted'
      )
        throw new ServerError('bad-request', 'The upload was interrupted before the end of the message.');
      throw e;
    } finally {
      metrics.inflightUploads.dec();
    }
  }
}

function tooLarge(max: number): ServerError {
  return new ServerError('too-large', `The message is larger than this server accepts (${max} bytes).`, {
    limit: max,
  });
}
