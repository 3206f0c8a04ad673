/**
 * The built-in outbox (trial mode, no upstream mail server) keeps whole notification mails, and a
 * notification's text carries the recipient's link with its secret. The database must not hold link
 * secrets in clear (docs/security.md: only their hashes), so the bodies of built-in outbox mails are
 * sealed at rest with the server's sealing key (AES-256-GCM, sealing.ts) — the key kept outside the
 * database (`data/sealing.key` or `--sealing-key`) — and opened only when the loopback-only /outbox
 * page or API reads them. The address, subject and time stay readable (they carry no secret).
 */
import type { Sealer } from '../sealing.ts';
import type { LocalMail, LocalMailbox } from '../store/port.ts';

const PREFIX = 'sealed:v1:';

export function sealText(sealer: Sealer, text: string): string {
  return PREFIX + Buffer.from(sealer.seal(new TextEncoder().encode(text))).toString('base64');
}

/** Opens a sealed body; a body stored in clear (before bodies were sealed) is returned as it is. */
export function openText(sealer: Sealer, stored: string): string {
  if (!stored.startsWith(PREFIX)) return stored;
  try {
    return new TextDecoder().decode(sealer.open(Buffer.from(stored.slice(PREFIX.length), 'base64')));
  } catch {
    return '(This mail was sealed with another sealing key and cannot be shown.)';
  }
}

/** The built-in outbox with its mail bodies sealed at rest. */
export function sealedMailbox(inner: LocalMailbox, sealer: Sealer): LocalMailbox {
  return {
    add: (mail: LocalMail) =>
      inner.add({ ...mail, text: sealText(sealer, mail.text), html: sealText(sealer, mail.html) }),
    list: async (limit: number) =>
      (await inner.list(limit)).map((m) => ({
        ...m,
        text: openText(sealer, m.text),
        html: openText(sealer, m.html),
      })),
  };
}
