/**
 * The one error type that leaves `core`. Every failure to open a message is one of these codes;
 * edges (CLI, HTTP, the receiver UI) map the code to an exit status, an HTTP status or a sentence.
 */
export const ERROR_CODES = [
  'no-matching-key',
  'bad-passphrase',
  'bad-password',
  'malformed',
  'truncated',
  'integrity-failure',
  'unsupported',
  'limit-exceeded',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SealpostErrorDetails {
  /** For `unsupported`: the algorithm or feature by name (e.g. "RC2-CBC", "DSA signatures"). */
  algorithm?: string;
  /** For `limit-exceeded`: which limit and its value. */
  limit?: string;
  value?: number;
  /** For `no-matching-key`: who the message is encrypted for, in words a person can act on. */
  recipients?: string[];
  /** Anything else worth showing to a developer (never secrets). */
  [key: string]: unknown;
}

export class SealpostError extends Error {
  readonly code: ErrorCode;
  readonly details: SealpostErrorDetails;

  constructor(
    code: ErrorCode,
    message: string,
    details: SealpostErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SealpostError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: SealpostErrorDetails } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isSealpostError(e: unknown): e is SealpostError {
  return e instanceof SealpostError;
}

/** Shorthands, so call sites read as sentences. */
export const malformed = (message: string, details?: SealpostErrorDetails, cause?: unknown): SealpostError =>
  new SealpostError('malformed', message, details, { cause });

export const unsupported = (algorithm: string, message?: string): SealpostError =>
  new SealpostError('unsupported', message ?? `The algorithm or format "${algorithm}" is not supported.`, {
    algorithm,
  });

export const limitExceeded = (limit: string, value: number, message?: string): SealpostError =>
  new SealpostError('limit-exceeded', message ?? `The message exceeds the limit on ${limit} (${value}).`, {
    limit,
    value,
  });

/**
 * Wrap anything thrown by a library into a SealpostError, so that no other exception escapes core.
 * Errors that already are SealpostErrors pass through unchanged.
 */
export function asSealpostError(
  e: unknown,
  fallback: ErrorCode = 'malformed',
  context = 'The message',
): SealpostError {
  if (e instanceof SealpostError) return e;
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return limitExceeded('nesting depth', 0, `${context} is nested too deeply to process.`);
  }
  const text = e instanceof Error ? e.message : String(e);
  return new SealpostError(fallback, `${context} could not be read: ${text}`, {}, { cause: e });
}
