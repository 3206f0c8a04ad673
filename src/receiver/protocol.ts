/**
 * Messages between the receiver's page and its crypto worker. Everything is structured-cloneable;
 * byte arrays are transferred, not copied.
 */
import type {
  ErrorCode,
  GenerateKind,
  KeyEntry,
  OpenedMessage,
  SealpostErrorDetails,
} from '../core/index.ts';

export type WorkerRequest =
  | { id: number; op: 'open-begin'; entries: KeyEntry[]; password?: string; size: number }
  | { id: number; op: 'open-chunk'; chunk: Uint8Array }
  | { id: number; op: 'open-end' }
  | { id: number; op: 'open-abort' }
  /** Opens the message the worker already holds again, with other keys or a password. */
  | { id: number; op: 'open-again'; entries: KeyEntry[]; password?: string }
  /**
   * Key files chosen together (a PKCS#8 private key finds its certificate among them, or among
   * `certificates`, the ones the keyring already holds).
   */
  | {
      id: number;
      op: 'import';
      files: Uint8Array[];
      certificates: Uint8Array[];
      passphrase?: string;
      trusted: boolean;
    }
  | { id: number; op: 'export'; entry: KeyEntry; passphrase: string }
  | { id: number; op: 'generate'; kind: GenerateKind; name: string; email: string }
  | { id: number; op: 'describe-certificate'; der: Uint8Array };

export interface WorkerError {
  code: ErrorCode | 'internal';
  message: string;
  details: SealpostErrorDetails;
}

export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WorkerError }
  | { id: number; progress: { stage: string; done: number; total: number } };

export type OpenResult = OpenedMessage;
