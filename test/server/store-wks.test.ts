/**
 * The key directory's WKD queries and the Web Key Service state, on SQLite and PostgreSQL alike:
 * addresses of one domain (no LIKE wildcards let through), withdrawal, the submission key stored
 * once (the first writer wins), pending requests taken once and not after they expire.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/server/store/port.ts';
import { openPostgresStore } from '../../src/server/store/postgres.ts';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { PG_URL, createTestSchema, requirePostgres } from './pg.ts';

const hasPg = await requirePostgres('WKD/WKS store queries on PostgreSQL');

const backends: [string, () => Promise<{ store: Store; cleanup(): Promise<void> }>][] = [
  [
    'sqlite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sp-wks-'));
      const store = await openSqliteStore({ dataDir: dir });
      return {
        store,
        cleanup: async () => (await store.close(), await rm(dir, { recursive: true, force: true })),
      };
    },
  ],
];
if (hasPg)
  backends.push([
    'postgres',
    async () => {
      const s = await createTestSchema();
      const store = await openPostgresStore({ url: PG_URL, schema: s.schema, poolSize: 2 });
      return { store, cleanup: async () => (await store.close(), await s.drop()) };
    },
  ]);

for (const [name, open] of backends) {
  describe(`WKD/WKS store: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await open());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const entry = (email: string, kind: 'openpgp' | 'x509' = 'openpgp') => ({
      email,
      kind,
      data: `key of ${email}`,
      fingerprint: `fpr-${email}`,
      deliveryId: 'd1',
      publishedAt: 1000,
    });

    it('lists one domain’s entries of a kind, and withdraws one', async () => {
      for (const e of ['a@example.net', 'b@example.net', 'c@sub.example.net', 'd@xexample.net'])
        await store.directory.publish(entry(e));
      await store.directory.publish(entry('a@example.net', 'x509'));
      const listed = await store.directory.listDomain('example.net', 'openpgp');
      expect(listed.map((e) => e.email)).toEqual(['a@example.net', 'b@example.net']);
      expect(await store.directory.listDomain('%', 'openpgp')).toEqual([]);
      expect(await store.directory.listDomain('example_net', 'openpgp')).toEqual([]);
      expect(await store.directory.remove('a@example.net', 'openpgp')).toBe(true);
      expect(await store.directory.remove('a@example.net', 'openpgp')).toBe(false);
      expect((await store.directory.lookup('a@example.net')).map((e) => e.kind)).toEqual(['x509']);
    });

    it('keeps the first submission key of a domain', async () => {
      expect(await store.wks.key('example.net')).toBeNull();
      const first = await store.wks.putKeyIfAbsent({
        domain: 'example.net',
        fingerprint: 'f1',
        publicKey: 'pub1',
        sealedPrivateKey: new Uint8Array([1, 2, 3]),
        createdAt: 1,
      });
      const second = await store.wks.putKeyIfAbsent({
        domain: 'example.net',
        fingerprint: 'f2',
        publicKey: 'pub2',
        sealedPrivateKey: new Uint8Array([4]),
        createdAt: 2,
      });
      expect(second).toEqual(first);
      expect(first.fingerprint).toBe('f1');
      expect(Array.from(first.sealedPrivateKey)).toEqual([1, 2, 3]);
    });

    it('takes a pending request once, and not after it expired', async () => {
      const p = { email: 'a@example.net', fingerprint: 'f', keyData: 'k', createdAt: 10 };
      await store.wks.addPending({ ...p, id: 'n1', expiresAt: 100 });
      await store.wks.addPending({ ...p, id: 'n2', expiresAt: 100 });
      await store.wks.addPending({ ...p, id: 'n3', expiresAt: 50 });
      expect(await store.wks.takePending('n1', 99)).toMatchObject({ id: 'n1', email: 'a@example.net' });
      expect(await store.wks.takePending('n1', 99)).toBeNull();
      expect(await store.wks.takePending('n2', 100)).toBeNull();
      expect(await store.wks.prunePending(60)).toBe(1);
      expect(await store.wks.takePending('n3', 10)).toBeNull();
    });
  });
}
