/** The one decryption failure of S/MIME: the same words whatever failed, so it tells nothing apart. */
import { SealpostError } from '../errors.ts';

export function integrityFailure(cause?: unknown): SealpostError {
  return new SealpostError(
    'integrity-failure',
    'The message could not be decrypted: it was altered or damaged on the way, or the key does not belong to it.',
    {},
    { cause },
  );
}
