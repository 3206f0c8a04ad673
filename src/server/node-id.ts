/**
 * This node's lasting name: a random id kept in the data folder (`node-id`), the same across
 * restarts. The store marks what a node holds with it — PostgreSQL uploads in progress and the
 * leases of notifications and forwards it is sending — so a node starting again knows that what its
 * name holds belongs to its own dead predecessor (one process per data folder) and takes it back at
 * once, rather than after the stale-upload hour or the lease. A node whose data folder does not
 * survive (a fresh container) gets a new id, and other nodes take its work over after the lease.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function loadNodeId(dataDir: string): Promise<string> {
  const path = join(dataDir, 'node-id');
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (/^[A-Za-z0-9_-]{12,64}$/.test(id)) return id;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(12).toString('base64url');
  await writeFile(path, `${id}\n`, { mode: 0o600 });
  return id;
}
