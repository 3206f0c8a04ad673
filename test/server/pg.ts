/**
 * PostgreSQL for tests: the server at SEALPOST_TEST_DATABASE (default
 * postgres://postgres@127.0.0.1:5432/test, trust auth). Every test gets its own schema or database
 * with a random name and drops it afterwards. When PostgreSQL is unreachable, the tests that need it
 * are skipped LOUDLY — never passed silently.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.SEALPOST_TEST_DATABASE ?? 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

let available: boolean | null = null;

/** Call at the top of a test file: true when PostgreSQL answers; otherwise prints a loud banner. */
export async function requirePostgres(what: string): Promise<boolean> {
  if (available === null) {
    try {
      await admin((c) => c.query('SELECT 1'));
      available = true;
    } catch (e) {
      available = false;
      const line = '*'.repeat(78);
      console.warn(
        `\n${line}\n* SKIPPED: ${what}\n* PostgreSQL is not reachable at ${PG_URL.replace(/:[^:@/]*@/, ':***@')}` +
          ` (${(e as Error).message}).\n* Start it (trust auth, database "test") or set SEALPOST_TEST_DATABASE.\n${line}\n`,
      );
    }
  }
  return available;
}

export const randomName = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/** A fresh schema in the test database. */
export async function createTestSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = randomName('sealpost_t');
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    schema,
    drop: () => admin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => undefined),
  };
}

/** A fresh database on the test server (for whole `sealpost serve` processes). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = randomName('sealpost_t');
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
