/**
 * Faults of the storage underneath, as one typed error with a stable code, so the edges answer them
 * as what they are instead of `500 internal`:
 *
 *   insufficient-storage   the disk (or the database's disk) is full: HTTP 507, SMTP 452 4.3.1
 *   unavailable            the database does not answer (connection lost, restarting, failing
 *                          over): HTTP 503, SMTP 451 4.3.0
 *
 * Both are temporary: the client retries, and nothing was acknowledged. `asStoreFault` recognises
 * the raw errors of the file system, better-sqlite3 and pg; apply it only to errors of store calls
 * (a client's own ECONNRESET is not a database outage).
 */
export type StoreFaultCode = 'insufficient-storage' | 'unavailable';

export class StoreFault extends Error {
  readonly code: StoreFaultCode;
  constructor(code: StoreFaultCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreFault';
    this.code = code;
  }
}

export const isStoreFault = (e: unknown): e is StoreFault => e instanceof StoreFault;

/** errno codes of a full disk or quota. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
/** Socket-level codes of a lost or refused database connection. */
const NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export const NO_SPACE_MESSAGE =
  'The server is out of storage space: the message was not stored; retry later.';
export const UNAVAILABLE_MESSAGE =
  'The database is unavailable: nothing was stored or changed; retry in a moment.';

/** The StoreFault a raw storage or database error stands for; null when it is none of these. */
export function asStoreFault(e: unknown): StoreFault | null {
  if (e instanceof StoreFault) return e;
  if (typeof e !== 'object' || e === null) return null;
  const code = 'code' in e && typeof e.code === 'string' ? e.code : '';
  const message = e instanceof Error ? e.message : '';
  // File system (ENOSPC…), SQLite (SQLITE_FULL: the database or its journal could not grow),
  // PostgreSQL 53100 disk_full.
  if (NO_SPACE.has(code) || code === 'SQLITE_FULL' || code === '53100')
    return new StoreFault('insufficient-storage', NO_SPACE_MESSAGE, { cause: e });
  // PostgreSQL: 57P01 admin_shutdown (pg_terminate_backend, a restart), 57P02 crash_shutdown,
  // 57P03 cannot_connect_now (starting up, a standby being promoted), 08xxx connection exceptions,
  // 25006 read_only_sql_transaction (a node still talking to the demoted primary after a failover).
  if (/^(57P0[123]|08...|25006)$/.test(code) || NET.has(code))
    return new StoreFault('unavailable', UNAVAILABLE_MESSAGE, { cause: e });
  // pg's own errors when the socket is gone or a connection cannot be had in time.
  if (
    /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed|Connection closed)/i.test(
      message,
    ) ||
    /Cannot use a pool after calling end|connection is closed|terminating connection/i.test(message)
  )
    return new StoreFault('unavailable', UNAVAILABLE_MESSAGE, { cause: e });
  return null;
}

/** Rethrows a storage error as its StoreFault (or as it is). */
export function rethrowAsFault(e: unknown): never {
  throw asStoreFault(e) ?? e;
}
