/**
 * The Store port's contract, as a reusable suite: every Store implementation (SQLite + files now,
 * PostgreSQL later) runs it with its own factory:
 *
 *   storeContract('sqlite', async () => { const store = …; return { store, cleanup } });
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  StoreConflictError,
  type NewForward,
  type NewMessage,
  type Store,
} from '../../src/server/store/port.ts';

export interface StoreHandle {
  store: Store;
  cleanup(): Promise<void>;
}

const id = (): string => randomBytes(16).toString('base64url');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable | null): Promise<Uint8Array> {
  if (!stream) throw new Error('no body');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

async function stage(store: Store, bytes: Uint8Array, chunk = 7000) {
  const w = await store.bodies.createWriter();
  for (let i = 0; i < bytes.length; i += chunk) await w.write(bytes.subarray(i, i + chunk));
  return w.finish();
}

export function storeContract(name: string, factory: () => Promise<StoreHandle>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHandle;
    let store: Store;
    const T0 = 1_700_000_000_000;

    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    async function sender(email = `s-${id()}@example.org`) {
      return store.senders.add({ id: id(), email, apiKeyHash: sha(randomBytes(32)), at: T0 });
    }

    async function message(
      opts: { bytes?: Uint8Array; recipients?: string[]; expiresAt?: number; senderId?: string } = {},
    ) {
      const bytes = opts.bytes ?? new Uint8Array(randomBytes(300_000));
      const senderId = opts.senderId ?? (await sender()).id;
      const body = await stage(store, bytes);
      const deliveries = (opts.recipients ?? ['a@example.com', 'b@example.com']).map((r) => ({
        id: id(),
        recipient: r,
        secretHash: sha(randomBytes(32)),
      }));
      const input: NewMessage = {
        id: id(),
        senderId,
        size: bytes.length,
        sha256: sha(bytes),
        protocol: 'smime',
        encrypted: true,
        signed: false,
        contentType: 'application/pkcs7-mime',
        fromHeader: 'Alice <alice@example.org>',
        subject: 'Quarterly figures',
        headerDate: null,
        headerMessageId: '<x@example.org>',
        createdAt: T0,
        expiresAt: opts.expiresAt ?? T0 + 28 * 86_400_000,
        receiptRequested: true,
        deliveries,
        mails: deliveries.map((d) => ({
          id: id(),
          kind: 'notification' as const,
          deliveryId: d.id,
          recipient: d.recipient,
          payload: new Uint8Array([1, 2, 3]),
        })),
      };
      await store.submissions.create(input, body);
      return { input, bytes };
    }

    it('migrates idempotently and answers ping', async () => {
      await store.migrate();
      await store.ping();
    });

    it('adds, finds, lists and revokes senders; one active sender per address', async () => {
      const keyHash = sha(new Uint8Array([9]));
      const s = await store.senders.add({
        id: id(),
        email: 'alice@example.org',
        apiKeyHash: keyHash,
        at: T0,
      });
      expect(s.revokedAt).toBeNull();
      expect((await store.senders.findByApiKeyHash(keyHash))?.email).toBe('alice@example.org');
      await expect(
        store.senders.add({
          id: id(),
          email: 'alice@example.org',
          apiKeyHash: sha(new Uint8Array([8])),
          at: T0,
        }),
      ).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.senders.list()).map((x) => x.email)).toContain('alice@example.org');
      expect(await store.senders.revoke('alice@example.org', T0 + 1)).toBe(true);
      expect(await store.senders.revoke('alice@example.org', T0 + 2)).toBe(false);
      expect(await store.senders.findByApiKeyHash(keyHash)).toBeNull();
      // The address can get a new sender after revocation.
      await store.senders.add({
        id: id(),
        email: 'alice@example.org',
        apiKeyHash: sha(new Uint8Array([7])),
        at: T0,
      });
    });

    it('stores a message body durably and reads it whole and by range', async () => {
      const { input, bytes } = await message();
      expect(await readAll(await store.submissions.openBody(input.id))).toEqual(bytes);
      const part = await readAll(await store.submissions.openBody(input.id, { start: 1000, end: 250_000 }));
      expect(part).toEqual(bytes.subarray(1000, 250_001));
      const m = await store.submissions.get(input.id);
      expect(m).toMatchObject({
        id: input.id,
        size: bytes.length,
        sha256: sha(bytes),
        protocol: 'smime',
        encrypted: true,
        subject: 'Quarterly figures',
        receiptRequested: true,
        revokedAt: null,
        purgedAt: null,
      });
      expect(m?.senderEmail).toMatch(/@example\.org$/);
      const ds = await store.deliveries.listByMessage(input.id);
      expect(ds.map((d) => [d.recipient, d.state])).toEqual([
        ['a@example.com', 'pending'],
        ['b@example.com', 'pending'],
      ]);
      const got = await store.deliveries.get(ds[0]!.id);
      expect(got?.secretHash).toBe(input.deliveries[0]!.secretHash);
      expect(got?.message.id).toBe(input.id);
      expect((await store.deliveries.listEvents(ds[0]!.id)).map((e) => e.type)).toEqual(['created']);
    });

    it('keeps an aborted or failed body invisible and recover() drops staged leftovers', async () => {
      const w = await store.bodies.createWriter();
      await w.write(new Uint8Array(1000));
      await w.abort();
      await w.abort();
      const staged = await stage(store, new Uint8Array(randomBytes(5000)));
      const s = await sender();
      const bad: NewMessage = {
        id: id(),
        senderId: s.id,
        size: 4999, // does not match: must be refused
        sha256: staged.sha256,
        protocol: 'smime',
        encrypted: true,
        signed: false,
        contentType: 'application/pkcs7-mime',
        fromHeader: null,
        subject: '',
        headerDate: null,
        headerMessageId: null,
        createdAt: T0,
        expiresAt: T0 + 1000,
        receiptRequested: false,
        deliveries: [],
        mails: [],
      };
      await expect(store.submissions.create(bad, staged)).rejects.toThrow();
      expect(await store.submissions.get(bad.id)).toBeNull();
      expect(await store.submissions.openBody(bad.id)).toBeNull();
      // A body staged and never committed (a crash before commit) is dropped at recovery.
      const w2 = await store.bodies.createWriter();
      await w2.write(new Uint8Array(10));
      await w2.finish();
      const r = await store.recover();
      expect(r.removedStaged).toBeGreaterThanOrEqual(1);
    });

    it('claims queued mails with a lease, completes them once and moves the delivery to notified', async () => {
      const { input } = await message();
      const claimed = await store.outbox.claim(T0, 60_000, 10);
      expect(claimed).toHaveLength(2);
      expect(claimed[0]!.payload).toEqual(new Uint8Array([1, 2, 3]));
      expect(claimed[0]!.attempts).toBe(1);
      expect(await store.outbox.claim(T0 + 1, 60_000, 10)).toHaveLength(0); // leased
      const [a, b] = claimed;
      expect(await store.outbox.complete(a!.id, 'not-the-token', T0 + 2)).toBe(false);
      expect(await store.outbox.complete(a!.id, a!.leaseToken, T0 + 2)).toBe(true);
      expect(await store.outbox.complete(a!.id, a!.leaseToken, T0 + 3)).toBe(false);
      const d = (await store.deliveries.get(a!.deliveryId))!.delivery;
      expect(d.state).toBe('notified');
      // Retry: released, due later, reclaimable after that with the attempt counted.
      expect(await store.outbox.retry(b!.id, b!.leaseToken, T0 + 10_000, 'connection refused')).toBe(true);
      expect(await store.outbox.claim(T0 + 5_000, 60_000, 10)).toHaveLength(0);
      const again = await store.outbox.claim(T0 + 10_000, 60_000, 10);
      expect(again.map((m) => [m.id, m.attempts])).toEqual([[b!.id, 2]]);
      // An expired lease can be claimed by another worker; the stale one then cannot complete.
      const stolen = await store.outbox.claim(T0 + 80_000, 60_000, 10);
      expect(stolen).toHaveLength(1);
      expect(await store.outbox.complete(b!.id, again[0]!.leaseToken, T0 + 80_001)).toBe(false);
      expect(await store.outbox.fail(b!.id, stolen[0]!.leaseToken, T0 + 80_002, '550 no such user')).toBe(
        true,
      );
      expect((await store.deliveries.get(b!.deliveryId))!.delivery.state).toBe('failed');
      const stats = await store.outbox.stats();
      expect(stats).toMatchObject({ queued: 0, sent: 1, failed: 1 });
      expect(input.deliveries).toHaveLength(2);
    });

    it('changes states by compare-and-set, with events and mails queued in the same step', async () => {
      const { input } = await message({ recipients: ['r@example.com'] });
      const did = input.deliveries[0]!.id;
      expect(
        await store.deliveries.transition({
          deliveryId: did,
          from: ['pending', 'notified'],
          to: 'opened',
          event: 'opened',
          at: T0 + 1,
        }),
      ).toBe(true);
      expect(
        await store.deliveries.transition({
          deliveryId: did,
          from: ['pending', 'notified'],
          to: 'opened',
          event: 'opened',
          at: T0 + 2,
        }),
      ).toBe(false);
      const receipt = {
        id: id(),
        kind: 'receipt' as const,
        deliveryId: did,
        recipient: 's@example.org',
        payload: null,
      };
      expect(
        await store.deliveries.transition({
          deliveryId: did,
          from: ['pending', 'notified', 'opened'],
          to: 'processed',
          event: 'processed',
          detail: 'receiver 1.0',
          at: T0 + 3,
          enqueue: [receipt],
        }),
      ).toBe(true);
      await store.deliveries.addEvent(did, 'content', null, T0 + 4);
      const events = await store.deliveries.listEvents(did);
      expect(events.map((e) => e.type)).toEqual(['created', 'opened', 'processed', 'content']);
      expect(events[2]!.detail).toBe('receiver 1.0');
      const mails = await store.outbox.claim(T0 + 10, 1000, 10);
      expect(mails.map((m) => m.kind).sort()).toEqual(['notification', 'receipt']);
    });

    it('revokes a message: deliveries revoked, notifications cancelled, body purgeable', async () => {
      const { input } = await message();
      expect(await store.submissions.revoke(input.id, T0 + 5)).toBe(true);
      expect(await store.submissions.revoke(input.id, T0 + 6)).toBe(false);
      expect(await store.submissions.revoke('no-such-message-id', T0 + 6)).toBe(false);
      const ds = await store.deliveries.listByMessage(input.id);
      expect(ds.every((d) => d.state === 'revoked')).toBe(true);
      expect(await store.outbox.claim(T0 + 10, 1000, 10)).toHaveLength(0);
      expect((await store.outbox.stats()).cancelled).toBe(2);
      expect(await store.retention.listPurgeable(T0 + 10, 10)).toEqual([input.id]);
      await store.retention.purgeBody(input.id, T0 + 11);
      await store.retention.purgeBody(input.id, T0 + 12);
      expect(await store.submissions.openBody(input.id)).toBeNull();
      expect((await store.submissions.get(input.id))?.purgedAt).toBe(T0 + 11);
      expect(await store.retention.listPurgeable(T0 + 13, 10)).toEqual([]);
    });

    it('expires due messages; processed deliveries stay processed and get an event', async () => {
      const { input } = await message({ expiresAt: T0 + 1000 });
      const [d1, d2] = input.deliveries;
      await store.deliveries.transition({
        deliveryId: d1!.id,
        from: ['pending'],
        to: 'processed',
        event: 'processed',
        at: T0 + 10,
      });
      expect(await store.retention.expireDue(T0 + 999, 10)).toEqual([]);
      expect(await store.retention.expireDue(T0 + 1000, 10)).toEqual([input.id]);
      expect(await store.retention.expireDue(T0 + 1001, 10)).toEqual([]);
      expect((await store.deliveries.get(d1!.id))!.delivery.state).toBe('processed');
      expect((await store.deliveries.listEvents(d1!.id)).map((e) => e.type)).toEqual([
        'created',
        'processed',
        'expired',
      ]);
      expect((await store.deliveries.get(d2!.id))!.delivery.state).toBe('expired');
      expect(await store.retention.listPurgeable(T0 + 1001, 10)).toEqual([input.id]);
    });

    it('counts wrong secrets per delivery in a window', async () => {
      const { input } = await message({ recipients: ['r@example.com'] });
      const did = input.deliveries[0]!.id;
      expect(await store.deliveries.badSecretCount(did, T0, 60_000)).toBe(0);
      expect(await store.deliveries.noteBadSecret(did, T0, 60_000)).toBe(1);
      expect(await store.deliveries.noteBadSecret(did, T0 + 10, 60_000)).toBe(2);
      expect(await store.deliveries.badSecretCount(did, T0 + 20, 60_000)).toBe(2);
      expect(await store.deliveries.badSecretCount(did, T0 + 70_000, 60_000)).toBe(0);
      expect(await store.deliveries.noteBadSecret(did, T0 + 70_000, 60_000)).toBe(1);
    });

    it('keeps counters in fixed windows, shared through the store', async () => {
      const key = `k-${id()}`;
      expect(await store.counters.count(key, T0, 60_000)).toBe(0);
      expect(await store.counters.hit(key, T0, 60_000)).toBe(1);
      expect(await store.counters.hit(key, T0 + 10, 60_000)).toBe(2);
      expect(await Promise.all([0, 1, 2].map(() => store.counters.hit(key, T0 + 20, 60_000)))).toEqual(
        expect.arrayContaining([3, 4, 5]),
      );
      expect(await store.counters.count(key, T0 + 30, 60_000)).toBe(5);
      // When the window closes (for Retry-After): 60 s after its first event.
      expect(await store.counters.window(key, T0 + 30, 60_000)).toEqual({ count: 5, resetAt: T0 + 60_000 });
      expect(await store.counters.hitWindow(key, T0 + 40, 60_000)).toEqual({
        count: 6,
        resetAt: T0 + 60_000,
      });
      expect(await store.counters.count(`${key}-other`, T0 + 30, 60_000)).toBe(0);
      // The window is over: the count starts again.
      expect(await store.counters.count(key, T0 + 60_000, 60_000)).toBe(0);
      expect(await store.counters.hit(key, T0 + 60_000, 60_000)).toBe(1);
      expect(await store.counters.prune(T0 + 60_000)).toBe(0);
      expect(await store.counters.prune(T0 + 60_001)).toBeGreaterThanOrEqual(1);
      expect(await store.counters.count(key, T0 + 60_000, 60_000)).toBe(0);
    });

    it('finds the active sender by address', async () => {
      const s = await sender('Finder@Example.org'.toLowerCase());
      expect((await store.senders.findByEmail('finder@example.org'))?.id).toBe(s.id);
      expect(await store.senders.findByEmail('nobody@example.org')).toBeNull();
      await store.senders.revoke('finder@example.org', T0 + 1);
      expect(await store.senders.findByEmail('finder@example.org')).toBeNull();
    });

    async function forward(opts: Partial<NewForward> & { bytes?: Uint8Array } = {}) {
      const bytes = opts.bytes ?? new Uint8Array(randomBytes(20_000));
      const body = await stage(store, bytes);
      const input: NewForward = {
        id: opts.id ?? id(),
        mailFrom: opts.mailFrom ?? 'alice@example.org',
        recipients: opts.recipients ?? ['x@example.net', 'y@example.net'],
        size: bytes.length,
        sha256: sha(bytes),
        senderId: opts.senderId ?? null,
        createdAt: opts.createdAt ?? T0,
        expiresAt: opts.expiresAt ?? T0 + 5 * 86_400_000,
      };
      await store.forwards.enqueue(input, body);
      return { input, bytes };
    }

    it('queues forwards durably, claims them with a lease and completes them once', async () => {
      const s = await sender();
      const { input, bytes } = await forward({ senderId: s.id });
      expect(await readAll(await store.forwards.openBody(input.id))).toEqual(bytes);
      expect(await store.forwards.get(input.id)).toMatchObject({
        ...input,
        state: 'queued',
        attempts: 0,
        lastError: null,
        doneAt: null,
      });
      expect(await store.forwards.stats()).toMatchObject({
        queued: 1,
        sent: 0,
        failed: 0,
        oldestQueuedAt: T0,
      });
      const claimed = await store.forwards.claim(T0, 60_000, 10);
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({ ...input, attempts: 1 });
      expect(await store.forwards.claim(T0 + 1, 60_000, 10)).toHaveLength(0); // leased
      expect(await store.forwards.complete(input.id, 'not-the-token', T0 + 2)).toBe(false);
      expect(await store.forwards.complete(input.id, claimed[0]!.leaseToken, T0 + 2)).toBe(true);
      expect(await store.forwards.complete(input.id, claimed[0]!.leaseToken, T0 + 3)).toBe(false);
      expect(await store.forwards.openBody(input.id)).toBeNull();
      expect(await store.forwards.get(input.id)).toMatchObject({ state: 'sent', doneAt: T0 + 2 });
      expect(await store.forwards.stats()).toMatchObject({ queued: 0, sent: 1, oldestQueuedAt: null });
      expect(await store.forwards.get('no-such-forward')).toBeNull();
    });

    it('retries forwards later, narrowing the recipients, and lets an expired lease be taken over', async () => {
      const { input } = await forward();
      const [a] = await store.forwards.claim(T0, 60_000, 10);
      expect(
        await store.forwards.retry(input.id, a!.leaseToken, T0 + 10_000, '421 try later', ['y@example.net']),
      ).toBe(true);
      expect(await store.forwards.claim(T0 + 5_000, 60_000, 10)).toHaveLength(0);
      const [b] = await store.forwards.claim(T0 + 10_000, 60_000, 10);
      expect(b).toMatchObject({ id: input.id, attempts: 2, recipients: ['y@example.net'] });
      expect((await store.forwards.get(input.id))!.lastError).toBe('421 try later');
      // Without a recipient list the envelope stays as it is.
      expect(await store.forwards.retry(input.id, b!.leaseToken, T0 + 20_000, 'timeout')).toBe(true);
      const [c] = await store.forwards.claim(T0 + 20_000, 60_000, 10);
      expect(c!.recipients).toEqual(['y@example.net']);
      const [stolen] = await store.forwards.claim(T0 + 90_000, 60_000, 10);
      expect(stolen!.attempts).toBe(4);
      expect(await store.forwards.retry(input.id, c!.leaseToken, T0 + 90_001, 'stale')).toBe(false);
      expect(await store.forwards.complete(input.id, stolen!.leaseToken, T0 + 90_002)).toBe(true);
    });

    it('fails a forward and queues its bounce in the same step', async () => {
      const { input } = await forward();
      const [a] = await store.forwards.claim(T0, 60_000, 10);
      const dsn = new Uint8Array(Buffer.from('From: MAILER-DAEMON\r\n\r\nbounce\r\n'));
      const bounce: NewForward = {
        id: id(),
        mailFrom: '',
        recipients: ['alice@example.org'],
        size: dsn.length,
        sha256: sha(dsn),
        senderId: null,
        createdAt: T0 + 5,
        expiresAt: T0 + 6 * 86_400_000,
      };
      expect(
        await store.forwards.fail(input.id, a!.leaseToken, T0 + 5, 'expired', {
          forward: bounce,
          body: await stage(store, dsn),
        }),
      ).toBe(true);
      expect(await store.forwards.get(input.id)).toMatchObject({ state: 'failed', lastError: 'expired' });
      expect(await store.forwards.openBody(input.id)).toBeNull();
      expect(await readAll(await store.forwards.openBody(bounce.id))).toEqual(dsn);
      const [b] = await store.forwards.claim(T0 + 6, 60_000, 10);
      expect(b).toMatchObject({ id: bounce.id, mailFrom: '', recipients: ['alice@example.org'] });
      // A lost lease fails nothing and queues no bounce.
      expect(await store.forwards.fail(input.id, a!.leaseToken, T0 + 7, 'again')).toBe(false);
      expect(await store.forwards.fail(bounce.id, b!.leaseToken, T0 + 8, '550 no such user')).toBe(true);
      expect(await store.forwards.stats()).toMatchObject({ queued: 0, failed: 2 });
    });

    it('refuses a forward whose staged body does not match, leaving nothing queued', async () => {
      const bytes = new Uint8Array(randomBytes(3000));
      const body = await stage(store, bytes);
      const bad: NewForward = {
        id: id(),
        mailFrom: 'a@example.org',
        recipients: ['b@example.net'],
        size: bytes.length + 1,
        sha256: sha(bytes),
        senderId: null,
        createdAt: T0,
        expiresAt: T0 + 1000,
      };
      await expect(store.forwards.enqueue(bad, body)).rejects.toThrow();
      expect(await store.forwards.get(bad.id)).toBeNull();
      expect((await store.forwards.stats()).queued).toBe(0);
    });

    it('prunes finished mails and forwards older than the cut-off, oldest first, never queued ones', async () => {
      // Outbox: one sent (T0+100), one failed (T0+200), two cancelled (T0+300), one still queued.
      const { input: m1 } = await message();
      const [a, b] = await store.outbox.claim(T0, 60_000, 10);
      expect(await store.outbox.complete(a!.id, a!.leaseToken, T0 + 100)).toBe(true);
      expect(await store.outbox.fail(b!.id, b!.leaseToken, T0 + 200, '550 no such user')).toBe(true);
      const { input: m2 } = await message();
      expect(await store.submissions.revoke(m2.id, T0 + 300)).toBe(true);
      const { input: m3 } = await message({ recipients: ['q@example.com'] });
      // Forward queue: one sent (T0+100), one failed (T0+200), one still queued.
      const sent = await forward();
      const failed = await forward();
      const claimed = await store.forwards.claim(T0, 60_000, 10);
      const lease = (fid: string): string => claimed.find((f) => f.id === fid)!.leaseToken;
      expect(await store.forwards.complete(sent.input.id, lease(sent.input.id), T0 + 100)).toBe(true);
      expect(await store.forwards.fail(failed.input.id, lease(failed.input.id), T0 + 200, '550')).toBe(true);
      const queued = await forward();

      // Strictly older than the cut-off.
      expect(await store.retention.pruneHistory(T0 + 100, 10)).toEqual({ mails: 0, forwards: 0 });
      // Batches: the oldest finished row first.
      expect(await store.retention.pruneHistory(T0 + 250, 1)).toEqual({ mails: 1, forwards: 1 });
      expect(await store.forwards.get(sent.input.id)).toBeNull();
      expect(await store.forwards.get(failed.input.id)).toMatchObject({ state: 'failed' });
      expect(await store.outbox.stats()).toMatchObject({ queued: 1, sent: 0, failed: 1, cancelled: 2 });
      expect(await store.retention.pruneHistory(T0 + 250, 10)).toEqual({ mails: 1, forwards: 1 });
      expect(await store.retention.pruneHistory(T0 + 250, 10)).toEqual({ mails: 0, forwards: 0 });
      const later = T0 + 365 * 86_400_000;
      expect(await store.retention.pruneHistory(later, 10)).toEqual({ mails: 2, forwards: 0 });
      expect(await store.retention.pruneHistory(later, 10)).toEqual({ mails: 0, forwards: 0 });

      // What is still queued is untouched: counted, claimable, its body readable.
      expect(await store.outbox.stats()).toEqual({
        queued: 1,
        sent: 0,
        failed: 0,
        cancelled: 0,
        oldestQueuedAt: T0,
      });
      expect(await store.forwards.stats()).toEqual({ queued: 1, sent: 0, failed: 0, oldestQueuedAt: T0 });
      expect(await readAll(await store.forwards.openBody(queued.input.id))).toEqual(queued.bytes);
      expect((await store.forwards.claim(later, 60_000, 10)).map((f) => f.id)).toEqual([queued.input.id]);
      expect((await store.outbox.claim(later, 60_000, 10)).map((m) => m.deliveryId)).toEqual([
        m3.deliveries[0]!.id,
      ]);
      // Deliveries and their events stay: the sender's status is not history to prune.
      const notified = (await store.deliveries.get(a!.deliveryId))!;
      expect(notified.delivery.state).toBe('notified');
      expect(notified.message.id).toBe(m1.id);
      expect((await store.deliveries.listEvents(a!.deliveryId)).map((e) => e.type)).toContain('notified');
      expect((await store.deliveries.listByMessage(m2.id)).every((d) => d.state === 'revoked')).toBe(true);
    });

    it('keeps the built-in outbox idempotent by mail id', async () => {
      const mail = {
        id: id(),
        to: 'r@example.com',
        subject: 'S',
        text: 't',
        html: '<p>h</p>',
        createdAt: T0,
      };
      await store.localMail.add(mail);
      await store.localMail.add(mail);
      expect(await store.localMail.list(10)).toEqual([mail]);
    });

    it('publishes directory entries, one per address and kind, the newest winning', async () => {
      const e = {
        email: 'r@example.com',
        kind: 'x509' as const,
        data: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
        fingerprint: 'ab',
        deliveryId: 'd1',
        publishedAt: T0,
      };
      await store.directory.publish(e);
      await store.directory.publish({ ...e, fingerprint: 'cd', publishedAt: T0 + 1 });
      await store.directory.publish({ ...e, kind: 'openpgp', data: 'KEY', fingerprint: 'ef' });
      const got = await store.directory.lookup('r@example.com');
      expect(got.map((x) => [x.kind, x.fingerprint])).toEqual([
        ['openpgp', 'ef'],
        ['x509', 'cd'],
      ]);
      expect(await store.directory.lookup('nobody@example.com')).toEqual([]);
    });
  });
}
