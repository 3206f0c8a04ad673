/**
 * The Store contract against the embedded SQLite + files store, plus what only it has: files on
 * disk, orphan removal after a crash between rename and commit, and schema versions.
 */
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SQLITE_INDEXED_QUERIES, SqliteStore } from '../../src/server/store/sqlite.ts';
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

  it('answers the /metrics statistics and the history retention from indexes, never a table scan', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const store = await SqliteStore.open({ dataDir: dir });
      await store.close();
      const db = new Database(join(dir, 'sealpost.db'), { readonly: true });
      try {
        for (const [name, sql] of Object.entries(SQLITE_INDEXED_QUERIES)) {
          const params = (sql.match(/\?/g) ?? []).map(() => 1);
          const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
            (r) => r.detail,
          );
          // Every step over a table goes through an index; no sort of the finished rows either.
          for (const step of plan) {
            expect(step, `${name}: ${plan.join(' | ')}`).not.toMatch(/^SCAN (outbox|forward_queue)$/);
            expect(step, `${name}: ${plan.join(' | ')}`).not.toMatch(/TEMP B-TREE/);
          }
          expect(plan.join(' | '), name).toMatch(/INDEX (outbox|forward_queue)_(state_created|done)/);
        }
      } finally {
        db.close();
      }
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
