/**
 * Opens the configured Store: the embedded SQLite + files store in the data folder, or — given a
 * postgres:// URL — the shared PostgreSQL store that several server nodes use at once.
 */
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export * from './port.ts';

export interface OpenStoreOptions {
  dataDir: string;
  /** postgres:// URL; null or absent = the embedded store in dataDir. */
  database?: string | null;
  /** PostgreSQL connections (default 10). */
  poolSize?: number;
  /** An idle PostgreSQL connection failed (the pool replaces it). */
  onError?: (err: Error) => void;
  /** This node's lasting name (node-id.ts). */
  nodeId?: string;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.database) {
    const { openPostgresStore } = await import('./postgres.ts');
    return openPostgresStore({
      url: options.database,
      ...(options.poolSize ? { poolSize: options.poolSize } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    });
  }
  return openSqliteStore({ dataDir: options.dataDir, ...(options.nodeId ? { nodeId: options.nodeId } : {}) });
}
