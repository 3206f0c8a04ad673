/**
 * The Store contract against the embedded SQLite + files store, plus what only it has: files on
 * disk, orphan removal after a crash between rename and commit, and schema versions.
 */
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/server/store/migrations.ts';
import { indexedQueries } from '../../src/server/store/queues.ts';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { storeContract } from './store-contract.ts';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
  const store = await openSqliteStore({ dataDir: dir });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite store specifics', () => {
  it('records the schema version and reopens without re-running migrations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const a = await openSqliteStore({ dataDir: dir });
      expect(await a.schemaVersion()).toBe(SCHEMA_VERSION);
      await a.close();
      const b = await openSqliteStore({ dataDir: dir });
      expect(await b.schemaVersion()).toBe(SCHEMA_VERSION);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes message files that no committed row owns (a crash between rename and commit)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const store = await openSqliteStore({ dataDir: dir });
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
      const store = await openSqliteStore({ dataDir: dir });
      try {
        for (const [name, query] of Object.entries(indexedQueries(store.db))) {
          const { sql, parameters } = query.compile();
          const result = await store.db.kysely.executeQuery<{ detail: string }>(
            CompiledQuery.raw(`EXPLAIN QUERY PLAN ${sql}`, [...parameters]),
          );
          const plan = result.rows.map((r) => r.detail);
          // Every step over a table goes through an index; no sort of the finished rows either.
          for (const step of plan) {
            expect(step, `${name}: ${plan.join(' | ')}`).not.toMatch(/^SCAN (outbox|forward_queue)$/);
            expect(step, `${name}: ${plan.join(' | ')}`).not.toMatch(/TEMP B-TREE/);
          }
          expect(plan.join(' | '), name).toMatch(/INDEX (outbox|forward_queue)_(state_created|done)/);
        }
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes relay queue files that no queued forward owns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-store-'));
    try {
      const store = await openSqliteStore({ dataDir: dir });
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
