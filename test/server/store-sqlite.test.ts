/**
 * The Store contract against the embedded SQLite + files store, plus what only it has: files on
 * disk, orphan removal after a crash between rename and commit, and schema versions.
 */
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/server/store/sqlite.ts';
import { SQLITE_MIGRATIONS } from '../../src/server/store/sqlite-migrations.ts';
import { storeContract } from './store-contract.ts';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
  const store = await SqliteStore.open({ dataDir: dir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore specifics', () => {
  it('records the schema version and reopens without re-running migrations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const a = await SqliteStore.open({ dataDir: dir });
      expect(a.schemaVersion()).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
      await a.close();
      const b = await SqliteStore.open({ dataDir: dir });
      expect(b.schemaVersion()).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes message files that no committed row owns (a crash between rename and commit)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const store = await SqliteStore.open({ dataDir: dir });
      await mkdir(join(dir, 'messages', 'zz'), { recursive: true });
      await writeFile(join(dir, 'messages', 'zz', 'zzOrphanMessage0001'), 'half');
      await writeFile(join(dir, 'tmp', '0123.part'), 'staged');
      const r = await store.recover();
      expect(r).toEqual({ removedStaged: 1, removedOrphans: 1 });
      expect(await readdir(join(dir, 'messages', 'zz'))).toEqual([]);
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes relay queue files that no queued forward owns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const store = await SqliteStore.open({ dataDir: dir });
      await mkdir(join(dir, 'relay', 'zz'), { recursive: true });
      await writeFile(join(dir, 'relay', 'zz', 'zzOrphanForward0001'), 'half');
      expect(await store.recover()).toEqual({ removedStaged: 0, removedOrphans: 1 });
      expect(await readdir(join(dir, 'relay', 'zz'))).toEqual([]);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
