import type { Keyring } from './keyring.ts';
import type { Limits } from './limits.ts';

/** What every layer handler gets while a message is peeled. */
export interface OpenContext {
  keyring: Keyring;
  /** The message password (S/MIME PWRI or OpenPGP symmetric), when the recipient typed one. */
  password?: string;
  limits: Limits;
  /** The time against which certificates and keys are judged (defaults to now). */
  now: Date;
  /** The outer From address (lower case), to tell whether the signer is the sender. */
  fromAddress: string | null;
  /**
   * Size of the whole message as read. Decompression ratios are measured against the smaller of a
   * layer's own input and this, so that nesting compressed layers does not multiply the ratio.
   */
  messageBytes?: number;
  /** Called as the message is processed, for progress display (bytes done of total). */
  onProgress?: (stage: string, done: number, total: number) => void;
}
