/**
 * One per-sender submission limit for the HTTP API and the SMTP relay, kept in the store: shared by
 * both ways in, and by nodes on one PostgreSQL database. Limits answer with `Retry-After` (429
 * rate-limited, and 429 too-many-attempts for wrong link secrets, as docs/api.md says).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/main.ts';
import { submit } from './helpers.ts';
import { createTestDatabase, requirePostgres } from './pg.ts';
import { sendWithNodemailer, startRelay, type RelayServer } from './relay/helpers.ts';

const hasPg = await requirePostgres('the per-sender limit across two nodes on PostgreSQL');

/** A message the classifier takes as S/MIME encrypted (the relay diverts it, the API accepts it). */
const secure = (n: number): Buffer =>
  Buffer.from(
    `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: limit ${n}\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n',
  );

async function viaSmtp(t: RelayServer, apiKey: string, n: number) {
  return sendWithNodemailer({
    port: t.smtpPort,
    from: 'alice@example.org',
    to: ['bob@example.net'],
    raw: secure(n),
    auth: { user: 'alice@example.org', pass: apiKey },
  });
}

function expectRetryAfter(r: Response, max: number): void {
  const after = Number(r.headers.get('retry-after'));
  expect(after, `Retry-After: ${r.headers.get('retry-after')}`).toBeGreaterThanOrEqual(1);
  expect(after).toBeLessThanOrEqual(max);
}

describe('one per-sender limit for HTTP and SMTP', () => {
  let t: RelayServer;
  beforeAll(async () => {
    t = await startRelay(null, ['--sender-rate-limit', '2', '--bad-secret-delivery-limit', '2']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts API and relay submissions together, and says when to retry', async () => {
    expect((await submit(t, secure(1))).status).toBe(201);
    const smtp = await viaSmtp(t, t.apiKey, 2);
    expect(smtp.response, smtp.response).toMatch(/^250 2\.6\.0 Diverted/);
    // The third in the minute, either way in, is refused.
    const http = await submit(t, secure(3));
    expect(http.status).toBe(429);
    expect(((await http.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    expectRetryAfter(http, 60);
    const refused = await viaSmtp(t, t.apiKey, 4);
    expect(refused.code).toBe(451);
    expect(refused.response).toMatch(/4\.7\.1 Too many messages from this sender/);
    // Another sender has a count of its own.
    const other = await t.addSender('carol@example.org');
    expect((await submit({ url: t.url, apiKey: other }, secure(5), '?to=bob@example.net')).status).toBe(201);
  });

  it('429 too-many-attempts carries Retry-After (the rest of the wrong-secret window)', async () => {
    const other = await t.addSender('dave@example.org');
    const r = await submit({ url: t.url, apiKey: other }, secure(6));
    const { deliveries } = (await r.json()) as { deliveries: { id: string }[] };
    const id = deliveries[0]!.id;
    const wrong = () =>
      fetch(`${t.url}/api/v1/pickup/${id}`, { headers: { 'x-sealpost-secret': 'A'.repeat(43) } });
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(401);
    const locked = await wrong();
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('too-many-attempts');
    expectRetryAfter(locked, 3600);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(3500); // the window just began
  });
});

describe.skipIf(!hasPg)('one per-sender limit across nodes on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RelayServer;
  let b: RunningServer; // a second node; the sender is node a's (one sender row in the database)
  let bDir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    const shared = [
      '--database',
      db.url,
      '--sealing-key',
      randomBytes(32).toString('base64'),
      '--base-url',
      'https://sealpost.example.org',
      '--sender-rate-limit',
      '2',
    ];
    a = await startRelay(null, shared);
    bDir = await mkdtemp(join(tmpdir(), 'sealpost-node-b-'));
    b = await startServer(['--data', bDir, '--port', '0', '--smtp-port', 'off', ...shared], {
      env: {},
      print: null,
      logDestination: { write: () => undefined },
    });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    if (bDir) await rm(bDir, { recursive: true, force: true });
  });

  it('a submission on one node counts on the other', async () => {
    expect(a.server.store.kind).toBe('postgres');
    // The sender made by node a, on both nodes: SMTP on a, HTTP on b.
    expect((await viaSmtp(a, a.apiKey, 1)).code).toBe(250);
    expect((await submit({ url: b.url, apiKey: a.apiKey }, secure(2))).status).toBe(201);
    const third = await submit({ url: b.url, apiKey: a.apiKey }, secure(3));
    expect(third.status).toBe(429);
    expectRetryAfter(third, 60);
    expect((await viaSmtp(a, a.apiKey, 4)).code).toBe(451);
  });
});
