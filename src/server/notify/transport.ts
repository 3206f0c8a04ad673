/**
 * Where mails go: an upstream SMTP server (nodemailer, pooled), or the built-in outbox (a table the
 * /outbox page and GET /api/v1/outbox read) when no upstream is configured.
 */
import nodemailer from 'nodemailer';
import type { Sealer } from '../sealing.ts';
import type { Store } from '../store/port.ts';
import { sealedMailbox } from './sealed-mailbox.ts';

export interface OutgoingMail {
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
  /** A complete message to send as is (the MDN); subject/text/html then only feed the outbox. */
  raw?: Buffer;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** Is this a refusal that retrying cannot fix (the upstream rejected the recipient)? */
export function isPermanentMailError(e: unknown): boolean {
  const err = e as { responseCode?: number; command?: string };
  return typeof err.responseCode === 'number' && err.responseCode >= 500 && err.command === 'RCPT TO';
}

export function createSmtpTransport(url: string): MailTransport {
  const u = new URL(url);
  const transporter = nodemailer.createTransport({
    host: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 25,
    secure: u.protocol === 'smtps:',
    ...(u.username
      ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }
      : {}),
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  });
  return {
    kind: 'smtp',
    async send(mail) {
      if (mail.raw) {
        await transporter.sendMail({
          envelope: { from: addressOf(mail.from), to: [mail.to] },
          raw: mail.raw,
        });
        return;
      }
      await transporter.sendMail({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        headers: mail.headers,
      });
    },
    close: () => transporter.close(),
  };
}

function addressOf(mailbox: string): string {
  const m = /<([^>]+)>\s*$/.exec(mailbox);
  return m ? m[1]! : mailbox.trim();
}

/** The built-in outbox; mail bodies (with link secrets) sealed at rest (sealed-mailbox.ts). */
export function createOutboxTransport(store: Store, sealer: Sealer, now: () => number): MailTransport {
  const mailbox = sealedMailbox(store.localMail, sealer);
  return {
    kind: 'outbox',
    async send(mail) {
      await mailbox.add({
        id: mail.id,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        createdAt: now(),
      });
    },
    close: () => undefined,
  };
}
