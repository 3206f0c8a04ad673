/**
 * The signature verdict in words: a headline, what it means, and what to do next (docs/receiver.md).
 * "✔ verified" only for core's `valid`, which already requires the signer to be the From address.
 */
import type { SignatureReport } from '../core/index.ts';

export interface Verdict {
  tone: 'good' | 'warn' | 'bad' | 'neutral';
  icon: string;
  headline: string;
  detail: string;
  /** What the recipient can do about it (empty when nothing is needed). */
  next: string;
}

/**
 * `from` is the From address the message shows ('' when it names none); `encrypted` whether it was
 * encrypted.
 */
export function verdict(s: SignatureReport, encrypted: boolean, from: string): Verdict {
  // A signer known by its certificate or key but without an e-mail address is named by what it has
  // (the certificate's subject, the key's user ID); "unknown" is only for a signer nothing names.
  const named = s.certificate?.subject || s.openpgpKey?.userIds[0];
  const who = s.signer ?? (named ? `“${named}” (no e-mail address)` : 'an unknown signer');
  switch (s.status) {
    case 'valid':
      return {
        tone: 'good',
        icon: '✔',
        headline: `Signed by ${who} — verified`,
        detail:
          'The signature is good, the signer’s certificate or key is trusted, and the signer is the sender named in the message. The message was not changed after it was signed.',
        next: '',
      };
    case 'signer-mismatch':
      return from === ''
        ? {
            tone: 'warn',
            icon: '⚠',
            headline: `Signed by ${who} — but the message names no sender`,
            detail:
              'The signature is good, but the message has no sender address (From), so the signature does not show who sent it.',
            next: `Treat it as a message from ${who} only if you expected it from them; if in doubt, ask them by another channel.`,
          }
        : {
            tone: 'warn',
            icon: '⚠',
            headline: `Signed by ${who} — but the message claims to be from someone else`,
            detail: `The signature is good, but the signer is not the address in the From line (${from}). Someone may be impersonating the sender.`,
            next: `Do not act on it as a message from ${from}. If in doubt, ask ${from} by another channel whether they sent it.`,
          };
    case 'untrusted':
      return {
        tone: 'warn',
        icon: '⚠',
        headline: `Signed by ${who} — not verified`,
        detail:
          'The signature is intact, but the signer’s certificate or key is not one you trust. Anyone can create a certificate in any name.',
        next: 'If you know this sender, compare the fingerprint (Show certificate) with them by phone or in person; if it matches, trust their certificate or key on the Keys page.',
      };
    case 'unknown-signer':
      return {
        tone: 'warn',
        icon: '?',
        headline: 'Signed by an unknown signer — not verified',
        detail:
          'The message is signed, but the signer’s certificate or key is not available, so the signature cannot be checked.',
        next: 'Import the sender’s certificate or public key on the Keys page (ask them for it), then open the link again.',
      };
    case 'invalid':
      return {
        tone: 'bad',
        icon: '✖',
        headline: 'Invalid signature — the message was altered',
        detail: 'The content or the signature was changed after signing. The content is not shown.',
        next: 'Do not trust this message. Ask the sender, by another channel, to send it again.',
      };
    default:
      return {
        tone: 'neutral',
        icon: encrypted ? '🔒' : '•',
        headline: encrypted ? 'Encrypted, not signed' : 'Not signed',
        detail: encrypted
          ? 'Only you could read this message, but it carries no signature that proves who wrote it.'
          : 'Nothing proves who wrote this message.',
        next: '',
      };
  }
}
