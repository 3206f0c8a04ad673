/**
 * What the receiver tells the server (and so the sender) about a delivery, and when.
 *
 * - **When**: a message that needed a key or a password was opened by a person (every page starts
 *   with the keyring locked), so its receipt goes at once. A message that needs nothing (signed
 *   only, or plain) opens by merely loading the link — as a link scanner that runs JavaScript does —
 *   so its `processed` receipt (and the MDN it may mail) waits for a human action on the page.
 * - **What**: one undifferentiated failure for every error that ends the attempt. Telling the sender
 *   "integrity-failure" from "malformed" (or an invalid signature under encryption from either) would
 *   be a padding/format oracle on CBC content: the sender crafts ciphertexts and reads the answers.
 *   Only an invalid signature on a message that was not encrypted is named, as nothing secret
 *   depends on it.
 */
import type { OpenedMessage } from '../core/index.ts';

export type Receipt = { outcome: 'processed' | 'failed' } & Record<string, string | number>;

/** The one detail of every failure to open a message. */
export const FAILED_DETAIL = 'cannot-open';

/** Errors after which the message will not open however the recipient tries: reported as failed. */
const FINAL_ERRORS = new Set([
  'integrity-failure',
  'truncated',
  'malformed',
  'unsupported',
  'limit-exceeded',
]);

/** The receipt for a message that was opened (its content shown, or withheld under an invalid signature). */
export function receiptForShown(report: OpenedMessage): Receipt {
  if (report.signature.status === 'invalid')
    return { outcome: 'failed', detail: report.encrypted ? FAILED_DETAIL : 'signature-invalid' };
  return {
    outcome: 'processed',
    protocol: report.protocol,
    signature: report.signature.status,
    attachments: report.attachments.length,
  };
}

/** The receipt for an error while opening; null when the recipient may still open it (key, password). */
export function receiptForError(code: string): Receipt | null {
  return FINAL_ERRORS.has(code) ? { outcome: 'failed', detail: FAILED_DETAIL } : null;
}

/** Does this receipt wait for a person to act on the page? */
export function awaitsHumanAction(report: OpenedMessage, receipt: Receipt): boolean {
  return receipt.outcome === 'processed' && !report.encrypted;
}

/** The events that count as a person acting on the page (not a load, focus or scripted scroll). */
export const HUMAN_EVENTS = ['pointerdown', 'keydown', 'touchstart', 'wheel'] as const;
