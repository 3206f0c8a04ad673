/**
 * Receipts (issue 10): one undifferentiated failure for every error (no padding or format oracle
 * for the sender), and a message that needs no key waits for a person before it is "processed".
 */
import { describe, expect, it } from 'vitest';
import { NO_SIGNATURE, emptySignature, type OpenedMessage } from '../../src/core/index.ts';
import {
  FAILED_DETAIL,
  awaitsHumanAction,
  receiptForError,
  receiptForShown,
} from '../../src/receiver/receipt.ts';

const report = (encrypted: boolean, status: 'valid' | 'invalid' | 'none'): OpenedMessage =>
  ({
    protocol: 'smime',
    encrypted,
    layers: [],
    signature: status === 'none' ? NO_SIGNATURE : emptySignature(status),
    from: 'alice@example.org',
    to: [],
    cc: [],
    subject: '',
    date: null,
    text: '',
    html: null,
    attachments: [],
  }) as unknown as OpenedMessage;

describe('receipts', () => {
  it('report every failure to open alike: CBC padding, garbled plaintext, truncation, limits', () => {
    const bodies = ['integrity-failure', 'malformed', 'truncated', 'unsupported', 'limit-exceeded'].map(
      receiptForError,
    );
    for (const b of bodies) expect(b).toEqual({ outcome: 'failed', detail: FAILED_DETAIL });
    // An invalid signature under encryption is no different either.
    expect(receiptForShown(report(true, 'invalid'))).toEqual({ outcome: 'failed', detail: FAILED_DETAIL });
    // Waiting for a key or a password posts nothing.
    expect(receiptForError('no-matching-key')).toBeNull();
    expect(receiptForError('bad-password')).toBeNull();
  });

  it('wait for a person when the message needed no key, not when it did', () => {
    const signedOnly = report(false, 'valid');
    expect(awaitsHumanAction(signedOnly, receiptForShown(signedOnly))).toBe(true);
    const plain = report(false, 'none');
    expect(awaitsHumanAction(plain, receiptForShown(plain))).toBe(true);
    const encrypted = report(true, 'valid');
    expect(receiptForShown(encrypted)).toMatchObject({ outcome: 'processed', signature: 'valid' });
    expect(awaitsHumanAction(encrypted, receiptForShown(encrypted))).toBe(false);
    // A failure is no receipt mail: it goes at once.
    const tampered = report(false, 'invalid');
    expect(receiptForShown(tampered)).toEqual({ outcome: 'failed', detail: 'signature-invalid' });
    expect(awaitsHumanAction(tampered, receiptForShown(tampered))).toBe(false);
  });
});
