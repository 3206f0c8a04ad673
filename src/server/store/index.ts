/**
 * Opens the configured Store. Today: the embedded SQLite + files store in the data folder. The
 * PostgreSQL store (selected by a database URL) plugs in here.
 */
import type { Store } from './port.ts';
import { SqliteStore } from './sqlite.ts';

export type { Store } from './port.ts';
export * from './port.ts';

export async function openStore(options: { dataDir: string }): Promise<Store> {
  return SqliteStore.open({ dataDir: options.dataDir });
}
