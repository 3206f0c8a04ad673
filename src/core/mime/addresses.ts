import { addressParser, decodeWords } from 'postal-mime';

export interface Mailbox {
  name: string;
  address: string;
}

/** Parses an address-list header (From, To, Cc) into mailboxes; groups are flattened. Never throws. */
export function parseAddresses(raw: string | null): Mailbox[] {
  if (!raw) return [];
  try {
    const parsed = addressParser(raw, { flatten: true }) as { name: string; address?: string }[];
    return parsed
      .filter((a) => typeof a.address === 'string' && a.address.includes('@'))
      .map((a) => ({ name: safeDecode(a.name ?? ''), address: a.address!.trim() }));
  } catch {
    return [];
  }
}

function safeDecode(s: string): string {
  try {
    return decodeWords(s);
  } catch {
    return s;
  }
}

/** The address part, lower-cased, for comparisons (From vs signer, recipients). */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

export function formatMailbox(m: Mailbox): string {
  return m.name ? `${m.name} <${m.address}>` : m.address;
}
