/**
 * The notification mail, text and HTML, branded (name, logo, colour, footer). It says who sent what,
 * until when the link works, and how to tell a genuine notice from a phishing copy.
 */
import { escapeHtml } from '../http/pages.ts';

export interface Brand {
  name: string;
  logoUrl: string | null;
  color: string;
  footer: string | null;
}

export interface NotificationFacts {
  brand: Brand;
  baseUrl: string;
  link: string;
  recipient: string;
  /** The authenticated sender account. */
  senderEmail: string;
  /** The message's own From header (as the sender's software wrote it), if any. */
  fromHeader: string | null;
  subject: string;
  size: number;
  protocol: string;
  encrypted: boolean;
  signed: boolean;
  expiresAt: number;
  /** Short reference the recipient can check with the sender. */
  reference: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function describeKind(f: Pick<NotificationFacts, 'protocol' | 'encrypted' | 'signed'>): string {
  const proto =
    f.protocol === 'smime'
      ? 'S/MIME'
      : f.protocol === 'pgp-mime'
        ? 'PGP/MIME'
        : f.protocol === 'openpgp-inline'
          ? 'OpenPGP'
          : 'plain';
  const what = f.encrypted ? 'encrypted' : f.signed ? 'signed' : 'unprotected';
  return `${proto}, ${what}`;
}

export function formatDate(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
    timeZoneName: 'short',
  });
}

/** Strips characters that could fold or break a header or a line. */
function oneLine(s: string, max = 200): string {
  const t = s.replace(/[\r\n\t\u2028\u2029]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export function renderNotification(f: NotificationFacts): RenderedMail {
  const origin = new URL(f.baseUrl).origin;
  const host = new URL(f.baseUrl).host;
  const subjectLine = f.subject ? oneLine(f.subject) : '(no subject)';
  const expires = formatDate(f.expiresAt);
  const kind = describeKind(f);
  const subject = oneLine(`${f.senderEmail} sent you a secure message via ${f.brand.name}`, 180);

  const text = [
    'Hello,',
    '',
    `${f.senderEmail} has sent you a secure message through ${f.brand.name}.`,
    '',
    `  Subject:           ${subjectLine}`,
    ...(f.fromHeader ? [`  From (as written): ${oneLine(f.fromHeader)}`] : []),
    `  Size:              ${formatSize(f.size)} (${kind})`,
    `  Available until:   ${expires}`,
    `  Reference:         ${f.reference}`,
    '',
    'Open it in your browser:',
    '',
    f.link,
    '',
    f.encrypted
      ? `The message is decrypted in your browser with your own key; ${f.brand.name} cannot read it.`
      : 'The message is shown in your browser, with a check of its signature.',
    '',
    'How to tell this notice is genuine',
    `- The link goes to ${origin}/m/… and nowhere else. Look at the address before you open it.`,
    `- ${f.brand.name} never asks for your e-mail password. Your private key and its passphrase`,
    `  stay in your browser: nobody from ${f.brand.name} will ask you to send them.`,
    `- Not sure? Ask ${f.senderEmail}, through a channel you already trust, whether they sent`,
    `  you a message with the reference ${f.reference}.`,
    `- If you did not expect this message, you can ignore this notice: the link stops working`,
    `  on ${expires}.`,
    '',
    '-- ',
    f.brand.footer ? oneLine(f.brand.footer, 500) : `${f.brand.name} · ${host}`,
    '',
  ].join('\r\n');

  const e = escapeHtml;
  const c = f.brand.color;
  const row = (k: string, v: string): string =>
    `<tr><td style="padding:2px 12px 2px 0;color:#555">${e(k)}</td><td style="padding:2px 0">${e(v)}</td></tr>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${e(subject)}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;color:#1d1d1f">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px;border-top:6px solid ${c}">
<tr><td style="padding:24px 28px 8px">
${f.brand.logoUrl ? `<img src="${e(f.brand.logoUrl)}" alt="${e(f.brand.name)}" height="40" style="display:block;margin-bottom:12px">` : `<div style="font-size:20px;font-weight:bold;color:${c};margin-bottom:12px">${e(f.brand.name)}</div>`}
<p style="font-size:16px;margin:0 0 12px"><strong>${e(f.senderEmail)}</strong> has sent you a secure message.</p>
<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:14px;margin:0 0 16px">
${row('Subject', subjectLine)}
${f.fromHeader ? row('From (as written)', oneLine(f.fromHeader)) : ''}
${row('Size', `${formatSize(f.size)} (${kind})`)}
${row('Available until', expires)}
${row('Reference', f.reference)}
</table>
<p style="margin:20px 0"><a href="${e(f.link)}" style="background:${c};color:#ffffff;text-decoration:none;padding:12px 22px;border-radius:6px;font-weight:bold;display:inline-block">Open the secure message</a></p>
<p style="font-size:13px;color:#555;margin:0 0 16px">Or copy this address into your browser:<br><span style="word-break:break-all">${e(f.link)}</span></p>
<p style="font-size:14px;margin:0 0 16px">${e(
    f.encrypted
      ? `The message is decrypted in your browser with your own key; ${f.brand.name} cannot read it.`
      : 'The message is shown in your browser, with a check of its signature.',
  )}</p>
<div style="font-size:13px;background:#f4f5f7;border-radius:6px;padding:12px 16px;margin:0 0 16px">
<strong>How to tell this notice is genuine</strong>
<ul style="margin:8px 0 0;padding-left:18px">
<li>The link goes to <strong>${e(origin)}/m/…</strong> and nowhere else. Look at the address before you open it.</li>
<li>${e(f.brand.name)} never asks for your e-mail password. Your private key and its passphrase stay in your browser: nobody from ${e(f.brand.name)} will ask you to send them.</li>
<li>Not sure? Ask ${e(f.senderEmail)}, through a channel you already trust, whether they sent you a message with the reference <strong>${e(f.reference)}</strong>.</li>
<li>If you did not expect this message, you can ignore this notice: the link stops working on ${e(expires)}.</li>
</ul></div>
</td></tr>
<tr><td style="padding:12px 28px 20px;font-size:12px;color:#595959;border-top:1px solid #e5e5e5">${e(f.brand.footer ?? `${f.brand.name} · ${host}`)}</td></tr>
</table></td></tr></table>
</body></html>
`;
  return { subject, text, html };
}

export interface ReceiptFacts {
  brand: Brand;
  recipient: string;
  subject: string;
  sentAt: number;
  processedAt: number;
}

/** The human-readable part of the receipt (MDN) mail. */
export function renderReceiptText(f: ReceiptFacts): { subject: string; text: string } {
  const s = f.subject ? oneLine(f.subject) : '(no subject)';
  return {
    subject: oneLine(`Receipt: ${s}`, 180),
    text: [
      `The secure message "${s}" that you sent on ${formatDate(f.sentAt)}`,
      `to ${f.recipient} was opened and processed in the recipient's browser`,
      `on ${formatDate(f.processedAt)}.`,
      '',
      `This receipt confirms that ${f.brand.name}'s receiver processed the message; it does not`,
      'tell whether the recipient has read or understood it.',
      '',
      '-- ',
      f.brand.footer ? oneLine(f.brand.footer, 500) : f.brand.name,
      '',
    ].join('\r\n'),
  };
}
