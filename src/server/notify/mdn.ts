/**
 * The receipt mail to the sender: a Message Disposition Notification (RFC 8098),
 * `multipart/report; report-type=disposition-notification`, built with nodemailer's MailComposer
 * (CRLF line ends), whose second part is the machine-readable `message/disposition-notification`.
 */
import MailComposer from 'nodemailer/lib/mail-composer';

export interface MdnInput {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** The host name reported in Reporting-UA. */
  reportingHost: string;
  /** The address the message was delivered to. */
  finalRecipient: string;
  /** The original Message-ID, when the message had one. */
  originalMessageId: string | null;
  messageId: string;
  date: Date;
}

function headerSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

/** The machine-readable part (RFC 8098 section 3.1). */
export function dispositionNotification(input: MdnInput): string {
  const lines = [
    `Reporting-UA: ${headerSafe(input.reportingHost)}; Sealpost`,
    `Final-Recipient: rfc822;${headerSafe(input.finalRecipient)}`,
    ...(input.originalMessageId ? [`Original-Message-ID: ${headerSafe(input.originalMessageId)}`] : []),
    'Disposition: automatic-action/MDN-sent-automatically; processed',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

export async function buildMdn(input: MdnInput): Promise<Buffer> {
  const composer = new MailComposer({
    from: input.from,
    to: input.to,
    subject: input.subject,
    text: input.text,
    messageId: input.messageId,
    date: input.date,
    newline: 'windows',
    headers: { 'Auto-Submitted': 'auto-replied' },
    attachments: [
      {
        content: dispositionNotification(input),
        contentType: 'message/disposition-notification',
        contentDisposition: 'inline',
        contentTransferEncoding: '7bit',
      },
    ],
  } as ConstructorParameters<typeof MailComposer>[0]);
  const root = composer.compile();
  // MailComposer makes a multipart/mixed root for text + one part; an MDN is multipart/report.
  root.setHeader('Content-Type', 'multipart/report; report-type=disposition-notification');
  return new Promise<Buffer>((resolve, reject) => {
    root.build((err, message) => (err ? reject(err) : resolve(message)));
  });
}
