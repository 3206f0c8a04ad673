/**
 * The trace header a relay adds (RFC 5321 §4.4): a `Received:` field at the top of every message it
 * forwards, so the upstream and the recipient can see the hop, its client and time, and loops can be
 * counted. The original message follows it byte for byte. Protocol names from RFC 3848 (ESMTP,
 * ESMTPS with TLS, ESMTPA/ESMTPSA when authenticated).
 */
import type { SMTPServerSession } from 'smtp-server';

/** A HELO name or host name as a header may carry it: no control characters, parentheses or `;`. */
function clean(text: string, max = 255): string {
  return text.replace(/[^\x21-\x7e]|[();\\]/g, '').slice(0, max) || 'unknown';
}

export function receivedHeader(
  session: Pick<
    SMTPServerSession,
    'hostNameAppearsAs' | 'clientHostname' | 'remoteAddress' | 'secure' | 'user'
  >,
  opts: { hostname: string; id: string; recipients: string[]; now: number },
): string {
  const ip = clean(session.remoteAddress.replace(/^::ffff:/, ''), 64);
  const helo = clean(session.hostNameAppearsAs || ip);
  const rdns =
    session.clientHostname && !session.clientHostname.startsWith('[') ? clean(session.clientHostname) : '';
  const protocol = `ESMTP${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
  // One recipient is named (RFC 5321 §4.4 `for`); with several, naming them would disclose Bcc.
  const forClause = opts.recipients.length === 1 ? `\r\n\tfor <${clean(opts.recipients[0]!)}>` : '';
  return (
    `Received: from ${helo} (${rdns ? `${rdns} ` : ''}[${ip}])\r\n` +
    `\tby ${clean(opts.hostname)} (Sealpost relay) with ${protocol} id ${clean(opts.id, 64)}${forClause};\r\n` +
    `\t${new Date(opts.now).toUTCString().replace('GMT', '+0000')}\r\n`
  );
}
