/**
 * Queue history on a running server: the purge pass deletes notification mails and relay forwards
 * that finished more than --history-days ago (and nothing queued), and /metrics reports both queues
 * — the outbox and the relay's forward queue (queued, sent, failed, age of the oldest queued).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { randomId } from '../../src/server/secrets.ts';
import type { NewForward, Store } from '../../src/server/store/port.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const DAY = 86_400_000;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function stage(store: Store, bytes: Uint8Array) {
  const w = await store.bodies.createWriter();
  await w.write(bytes);
  return w.finish();
}

/** A message with one delivery per recipient whose notifications the outbox worker leaves alone. */
async function storeMessage(store: Store, senderId: string, recipients: string[], farFuture: number) {
  const bytes = new Uint8Array(randomBytes(500));
  const deliveries = recipients.map((r) => ({
    id: randomId(),
    recipient: r,
    secretHash: sha(randomBytes(32)),
  }));
  await store.submissions.create(
    {
      id: randomId(),
      senderId,
      size: bytes.length,
      sha256: sha(bytes),
      protocol: 'smime',
      encrypted: true,
      signed: false,
      contentType: 'application/pkcs7-mime',
      fromHeader: null,
      subject: 'History',
      headerDate: null,
      headerMessageId: null,
      createdAt: Date.now(),
      expiresAt: farFuture + DAY,
      receiptRequested: false,
      deliveries,
      // Due only in the far future: the test claims and finishes them itself, at times it chooses.
      mails: deliveries.map((d) => ({
        id: randomId(),
        kind: 'notification' as const,
        deliveryId: d.id,
        recipient: d.recipient,
        payload: null,
        notBefore: farFuture,
      })),
    },
    await stage(store, bytes),
  );
  return deliveries;
}

async function enqueueForward(store: Store, createdAt: number): Promise<NewForward> {
  const bytes = new Uint8Array(randomBytes(200));
  const f: NewForward = {
    id: randomId(),
    mailFrom: 'alice@example.org',
    recipients: ['bob@example.net'],
    size: bytes.length,
    sha256: sha(bytes),
    senderId: null,
    createdAt,
    expiresAt: createdAt + 5 * DAY,
  };
  await store.forwards.enqueue(f, await stage(store, bytes));
  return f;
}

/** The value of one sample in a Prometheus text exposition; throws when absent. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (!line) throw new Error(`no sample ${name}${labels} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('queue history retention and queue metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--purge-interval', '1h', '--history-days', '2'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reports both queues on /metrics and prunes what finished before --history-days', async () => {
    const store = t.server.store;
    const now = Date.now();
    const farFuture = now + 3650 * DAY;
    const sender = (await store.senders.findByEmail(t.senderEmail))!;

    // Outbox: sent 3 days ago, failed 3 days ago, sent yesterday, cancelled 3 days ago, one queued.
    await storeMessage(store, sender.id, ['a@example.net', 'b@example.net', 'c@example.net'], farFuture);
    const claimed = await store.outbox.claim(farFuture, 60_000, 10);
    expect(claimed).toHaveLength(3);
    const [m1, m2, m3] = claimed;
    expect(await store.outbox.complete(m1!.id, m1!.leaseToken, now - 3 * DAY)).toBe(true);
    expect(await store.outbox.fail(m2!.id, m2!.leaseToken, now - 3 * DAY, '550 no such user')).toBe(true);
    expect(await store.outbox.complete(m3!.id, m3!.leaseToken, now - DAY)).toBe(true);
    const revoked = await storeMessage(store, sender.id, ['d@example.net'], farFuture);
    const revokedMessage = (await store.deliveries.get(revoked[0]!.id))!.message.id;
    expect(await store.submissions.revoke(revokedMessage, now - 3 * DAY)).toBe(true);
    await storeMessage(store, sender.id, ['e@example.net'], farFuture);

    // Forward queue: sent 3 days ago, failed 3 days ago, sent yesterday, one queued for 90 s.
    const old = [await enqueueForward(store, now - 4 * DAY), await enqueueForward(store, now - 4 * DAY)];
    const recent = await enqueueForward(store, now - 4 * DAY);
    const leases = await store.forwards.claim(now, 60_000, 10);
    const lease = (id: string): string => leases.find((f) => f.id === id)!.leaseToken;
    expect(await store.forwards.complete(old[0]!.id, lease(old[0]!.id), now - 3 * DAY)).toBe(true);
    expect(await store.forwards.fail(old[1]!.id, lease(old[1]!.id), now - 3 * DAY, 'expired')).toBe(true);
    expect(await store.forwards.complete(recent.id, lease(recent.id), now - DAY)).toBe(true);
    const waiting = await enqueueForward(store, now - 90_000);

    // /metrics answers a direct local connection (no proxy headers).
    const before = await (await fetch(`${t.url}/metrics`)).text();
    expect(sample(before, 'sealpost_outbox_mails', '{state="queued"}')).toBe(1);
    expect(sample(before, 'sealpost_outbox_mails', '{state="sent"}')).toBe(2);
    expect(sample(before, 'sealpost_outbox_mails', '{state="failed"}')).toBe(1);
    expect(sample(before, 'sealpost_outbox_mails', '{state="cancelled"}')).toBe(1);
    expect(sample(before, 'sealpost_relay_forwards', '{state="queued"}')).toBe(1);
    expect(sample(before, 'sealpost_relay_forwards', '{state="sent"}')).toBe(2);
    expect(sample(before, 'sealpost_relay_forwards', '{state="failed"}')).toBe(1);
    const age = sample(before, 'sealpost_relay_oldest_queued_age_seconds');
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(600);
    expect(before).toContain('# TYPE sealpost_relay_forwards gauge');
    expect(before).toContain('# HELP sealpost_relay_oldest_queued_age_seconds ');

    await t.server.purgeNow();

    const after = await (await fetch(`${t.url}/metrics`)).text();
    expect(sample(after, 'sealpost_outbox_mails', '{state="queued"}')).toBe(1);
    expect(sample(after, 'sealpost_outbox_mails', '{state="sent"}')).toBe(1);
    expect(sample(after, 'sealpost_outbox_mails', '{state="failed"}')).toBe(0);
    expect(sample(after, 'sealpost_outbox_mails', '{state="cancelled"}')).toBe(0);
    expect(sample(after, 'sealpost_relay_forwards', '{state="queued"}')).toBe(1);
    expect(sample(after, 'sealpost_relay_forwards', '{state="sent"}')).toBe(1);
    expect(sample(after, 'sealpost_relay_forwards', '{state="failed"}')).toBe(0);
    expect(await store.forwards.get(old[0]!.id)).toBeNull();
    expect(await store.forwards.get(old[1]!.id)).toBeNull();
    expect(await store.forwards.get(recent.id)).toMatchObject({ state: 'sent' });
    expect(await store.forwards.get(waiting.id)).toMatchObject({ state: 'queued' });
    // The deliveries and their events are the sender's status, not history: they stay.
    expect((await store.deliveries.get(m1!.deliveryId))!.delivery.state).toBe('notified');
    expect((await store.deliveries.get(m2!.deliveryId))!.delivery.state).toBe('failed');
    const line = t.logs.find((l) => l.includes('queue history pruned'));
    expect(line && JSON.parse(line)).toMatchObject({ mails: 3, forwards: 2, days: 2 });

    // The relay's gauge reads 0 once nothing waits.
    const [last] = await store.forwards.claim(Date.now(), 60_000, 10);
    expect(await store.forwards.complete(waiting.id, last!.leaseToken, Date.now())).toBe(true);
    const idle = await (await fetch(`${t.url}/metrics`)).text();
    expect(sample(idle, 'sealpost_relay_oldest_queued_age_seconds')).toBe(0);
    expect(sample(idle, 'sealpost_relay_forwards', '{state="queued"}')).toBe(0);
  });
});

describe('--history-days', () => {
  it('defaults to 30, reads SEALPOST_HISTORY_DAYS, and refuses what is not a number of days', () => {
    expect(loadConfig([], {}).historyDays).toBe(30);
    expect(loadConfig([], { SEALPOST_HISTORY_DAYS: '7' }).historyDays).toBe(7);
    expect(loadConfig(['--history-days', '90'], { SEALPOST_HISTORY_DAYS: '7' }).historyDays).toBe(90);
    for (const bad of ['0', '-1', '2.5', '30d', '', '100000'])
      expect(() => loadConfig([], { SEALPOST_HISTORY_DAYS: bad }), bad).toThrow(
        /--history-days \/ SEALPOST_HISTORY_DAYS: must be/,
      );
  });
});
