/**
 * The bounce the relay returns to a sender when it gives up on a forward: a delivery status
 * notification (RFC 3464), `multipart/report; report-type=delivery-status`, built with nodemailer's
 * MailComposer (CRLF line ends): a human-readable part, the machine-readable
 * `message/delivery-status`, and the original message's header block (`text/rfc822-headers`).
 * It is sent with the null envelope sender, so it is never bounced itself.
 */
import MailComposer from 'nodemailer/lib/mail-composer';

export interface FailedRecipient {
  address: string;
  /** RFC 3463 status, e.g. "4.4.7" (expired) or "5.1.1" (the upstream refused the mailbox). */
  status: string;
  /** The upstream's reply, when there was one ("smtp; 550 5.1.1 no such user"). */
  diagnostic: string | null;
}

export interface DsnInput {
  /** From of the bounce, e.g. "Mail Delivery System <MAILER-DAEMON@host>". */
  from: string;
  /** The original envelope sender. */
  to: string;
  reportingHost: string;
  /** When the relay accepted the original. */
  arrivalDate: Date;
  lastAttempt: Date;
  recipients: FailedRecipient[];
  /** The original message's header block (up to the empty line). */
  originalHeaders: Buffer;
  /** Why, in a sentence, for the human-readable part. */
  reason: string;
  messageId: string;
  date: Date;
}

function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

/** The `message/delivery-status` part (RFC 3464 section 2). */
export function deliveryStatus(input: DsnInput): string {
  const blocks = [
    [
      `Reporting-MTA: dns; ${headerSafe(input.reportingHost)}`,
      `Arrival-Date: ${input.arrivalDate.toUTCString().replace('GMT', '+0000')}`,
    ],
    ...input.recipients.map((r) => [
      `Final-Recipient: rfc822; ${headerSafe(r.address)}`,
      'Action: failed',
      `Status: ${r.status}`,
      ...(r.diagnostic ? [`Diagnostic-Code: smtp; ${headerSafe(r.diagnostic).slice(0, 900)}`] : []),
      `Last-Attempt-Date: ${input.lastAttempt.toUTCString().replace('GMT', '+0000')}`,
    ]),
  ];
  return `${blocks.map((b) => b.join('\r\n')).join('\r\n\r\n')}\r\n`;
}

export function dsnText(input: DsnInput): string {
  return [
    `This is the mail system at ${input.reportingHost}.`,
    '',
    'Your message could not be delivered to the following recipients:',
    '',
    ...input.recipients.map(
      (r) => `  <${r.address}>: ${r.diagnostic ? headerSafe(r.diagnostic).slice(0, 300) : r.status}`,
    ),
    '',
    input.reason,
    '',
    'The headers of your message are attached.',
    '',
  ].join('\r\n');
}

/** Returns the header block of a message: everything up to and including the first empty line. */
export function headerBlock(head: Buffer, max = 64 * 1024): Buffer {
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  let end = head.length;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) end = crlf + 4;
  else if (lf >= 0) end = lf + 2;
  return head.subarray(0, Math.min(end, max));
}

export async function buildDsn(input: DsnInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: input.from,
    to: input.to,
    subject: 'Undelivered Mail Returned to Sender',
    text: dsnText(input),
    messageId: input.messageId,
    date: input.date,
    newline: 'windows',
    headers: { 'Auto-Submitted': 'auto-replied' },
    attachments: [
      {
        content: deliveryStatus(input),
        contentType: 'message/delivery-status',
        contentDisposition: 'inline',
        contentTransferEncoding: '7bit',
      },
      {
        content: input.originalHeaders,
        contentType: 'text/rfc822-headers',
        contentDisposition: 'inline',
        // The original headers may carry 8-bit text; quoted-printable keeps the part 7-bit clean.
        contentTransferEncoding: 'quoted-printable',
      },
    ],
  } as ConstructorParameters<typeof MailComposer>[0]);
  const root = composer.compile();
  // MailComposer makes a multipart/mixed root for text + parts; a DSN is multipart/report.
  root.setHeader('Content-Type', 'multipart/report; report-type=delivery-status');
  return new Promise<Buffer>((resolve, reject) => {
    root.build((err, message) => (err ? reject(err) : resolve(message)));
  });
}
