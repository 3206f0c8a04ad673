/**
 * The server's own error: a stable string `code` and a human sentence. Services throw it; only the
 * HTTP edge (http/errors.ts) turns a code into a status, and the SMTP edge into a reply.
 */
export const SERVER_ERROR_CODES = [
  'bad-request',
  'unauthorized',
  'bad-secret',
  'forbidden',
  'not-found',
  'expired',
  'revoked',
  'not-secure',
  'too-large',
  'no-recipients',
  'too-many-recipients',
  'unsupported-media-type',
  'range-not-satisfiable',
  'timeout',
  'conflict',
  'rate-limited',
  'too-many-attempts',
  'unavailable',
  'insufficient-storage',
  'internal',
] as const;

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

export class ServerError extends Error {
  readonly code: ServerErrorCode;
  readonly details: Record<string, unknown>;
  /** Seconds until a retry can succeed (a refusal by a limit): `Retry-After` at the HTTP edge. */
  retryAfter: number | undefined;
  constructor(code: ServerErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ServerError';
    this.code = code;
    this.details = details;
  }

  /** This error, saying a retry can succeed after `ms` milliseconds (at least one second). */
  retryIn(ms: number): this {
    this.retryAfter = Math.max(1, Math.ceil(ms / 1000));
    return this;
  }
}

export const isServerError = (e: unknown): e is ServerError => e instanceof ServerError;
