/**
 * What the receiver says to people: errors in plain language, each with the next step.
 */
import type { RecipientDescription } from '../core/index.ts';

export interface Explained {
  title: string;
  text: string;
  next: string;
}

/** Phrases of the libraries underneath (PKI.js, asn1js, node-forge, OpenPGP.js, the JS engine). */
const LIBRARY_WORDS =
  /No valid certificate paths|Error during parsing|Cannot read propert|is not a function|\bundefined\b|Misformed|Error decrypting|Error reading|Unknown (packet|tag)|Invalid (tag|length|DER)|TypeError|RangeError/i;

/**
 * Core's sentence, if it is one of ours; never a library's words ("Error during parsing"): core
 * wraps a library error as "<what> could not be read: <library text>", of which only the first half
 * is for people.
 */
export function plainSentence(message: string, fallback: string): string {
  const wrapped = /^(.*?) could not be read: /s.exec(message);
  if (wrapped) return `${wrapped[1]} could not be read.`;
  const m = message.trim();
  return m === '' || LIBRARY_WORDS.test(m) ? fallback : m;
}

/** A signature problem from core, without a library's words after its colon, if any slipped in. */
export function plainProblem(problem: string): string {
  if (!LIBRARY_WORDS.test(problem)) return problem;
  const colon = problem.indexOf(': ');
  return colon > 0 ? `${problem.slice(0, colon)}.` : 'The signature could not be checked.';
}

/** A problem importing a key file (the key prompt and the Keys page). */
export function explainKeyError(code: string, message: string, details: Record<string, unknown>): Explained {
  switch (code) {
    case 'bad-passphrase':
      return {
        title: 'Wrong passphrase',
        text: 'That passphrase does not unlock the key file.',
        next: 'Type the passphrase you chose when the key was exported (it is case-sensitive) and try again.',
      };
    case 'unsupported':
      return {
        title: 'This key file uses something Sealpost cannot read',
        text: plainSentence(message, 'The key file uses an algorithm or format Sealpost does not support.'),
        next: `Export the key again from the program that holds it, choosing a current format (for example PKCS#12 with AES-256, or an OpenPGP key), or ask whoever issued it for one.${details.algorithm && !LIBRARY_WORDS.test(String(details.algorithm)) ? ` The unsupported part is: ${String(details.algorithm)}.` : ''}`,
      };
    case 'limit-exceeded':
      return {
        title: 'This file is too large to be a key',
        text: plainSentence(message, 'The file is larger or more deeply nested than any key file.'),
        next: 'Choose your key file: a .p12/.pfx, a PEM file, or an OpenPGP secret key.',
      };
    case 'malformed':
    case 'truncated':
      return {
        title: 'This file cannot be used as a key',
        text: plainSentence(message, 'It is not a key file Sealpost can read, or it is damaged.'),
        next: 'Choose your key file: a .p12 or .pfx file, a PEM file with the private key and its certificate (or both files at once), or an OpenPGP secret key (.asc).',
      };
    default:
      return {
        title: 'The key could not be imported',
        text: 'Something went wrong while reading the key file.',
        next: 'Reload the page and try again. If it keeps happening, export the key again and import the new file.',
      };
  }
}

export function explainOpenError(code: string, message: string, details: Record<string, unknown>): Explained {
  switch (code) {
    case 'no-matching-key': {
      const recipients = (details.recipients as (string | RecipientDescription)[] | undefined) ?? [];
      const who = recipients
        .map((r) => (typeof r === 'string' ? r : r.description))
        .filter(Boolean)
        .join('; ');
      return {
        title: 'This message needs a key you have not given yet',
        text: who ? `It is encrypted for: ${who}.` : 'None of the keys in this browser can open it.',
        next: 'Import the key file (a .p12/.pfx, a PKCS#8 private key chosen together with its certificate, or an OpenPGP secret key) that belongs to this address, or unlock your keyring. If you have no such key, ask the sender to encrypt the message to a key you have — or publish a new one from the Keys page.',
      };
    }
    case 'bad-password':
      if (details.preSharedKey)
        // KEKRecipientInfo: core's sentence says whether the key is missing, malformed or wrong.
        return {
          title: 'This message is encrypted with a pre-shared key',
          text: message,
          next: `Type the key you agreed on with the sender${details.keyBits ? ` (${String(details.keyBits)} bits)` : ''}, in hexadecimal or base64. If you do not have it, ask the sender — not by e-mail.`,
        };
      return details.passwordRequired
        ? {
            title: 'This message is protected by a password',
            text: 'The sender protected this message with a password instead of a key.',
            next: 'Type the message password the sender gave you (by phone or another channel, not by e-mail).',
          }
        : {
            title: 'That password does not open this message',
            text: 'The message password is not right.',
            next: 'Check the spelling and the keyboard layout, and try again. If you do not have the password, ask the sender.',
          };
    case 'bad-passphrase':
      return {
        title: 'Wrong passphrase',
        text: 'That passphrase does not unlock the key file.',
        next: 'Type the passphrase you chose when the key was exported (it is case-sensitive) and try again.',
      };
    case 'truncated':
      return {
        title: 'The message is incomplete',
        text: 'The stored message ends before it should: it was cut off on its way to the server.',
        next: 'Ask the sender to send it again.',
      };
    case 'integrity-failure':
      return {
        title: 'The message was altered',
        text: 'The encrypted message failed its integrity check: it was damaged or tampered with. Nothing of it is shown.',
        next: 'Do not trust this message. Ask the sender to send it again.',
      };
    case 'unsupported':
      return {
        title: 'This message uses something Sealpost cannot open',
        text: plainSentence(message, 'The message uses an algorithm or format Sealpost does not support.'),
        next: `Ask the sender to use a current algorithm (for example AES-256 with RSA or ECDH keys).${details.algorithm && !LIBRARY_WORDS.test(String(details.algorithm)) ? ` The unsupported part is: ${String(details.algorithm)}.` : ''}`,
      };
    case 'limit-exceeded':
      return {
        title: 'The message is too large or too deeply nested',
        text: plainSentence(
          message,
          'The message is larger or more deeply nested than this receiver accepts.',
        ),
        next: 'Ask the sender to split it into smaller messages.',
      };
    case 'malformed':
      return {
        title: 'The message cannot be read',
        text: plainSentence(message, 'Its structure is damaged.'),
        next: 'The message is damaged or not a secure e-mail message. Ask the sender to send it again.',
      };
    default:
      return {
        title: 'Something went wrong',
        text: 'The message could not be opened because of an error in this page.',
        next: 'Reload the page to try again. If it keeps happening, tell the sender.',
      };
  }
}

export function explainPickupError(status: number, code: string, message: string): Explained {
  if (code === 'expired' || status === 410)
    return {
      title: code === 'revoked' ? 'This message was withdrawn' : 'This link has expired',
      text:
        code === 'revoked'
          ? 'The sender withdrew this message; it can no longer be opened.'
          : 'Secure messages are kept for a limited time. This one is no longer available.',
      next: 'Ask the sender to send it again if you still need it.',
    };
  if (status === 401 || status === 403 || status === 404)
    return {
      title: 'This link does not open a message',
      text: 'The link is incomplete or not valid. Links only work exactly as they arrived in the notification e-mail.',
      next: 'Open the link again from the notification e-mail (copy all of it, including the part after #).',
    };
  if (status === 429)
    return {
      title: 'Too many attempts',
      text: 'There were too many attempts with a wrong link.',
      next: 'Wait a few minutes, then open the link from the notification e-mail again.',
    };
  return {
    title: 'The server could not be reached',
    text: message,
    next: 'Check your connection and reload the page.',
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
