/**
 * Prometheus metrics (prom-client), one registry per server instance so tests can run several.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { DiskSpace } from '../disk-space.ts';
import type { Store } from '../store/port.ts';

export interface Metrics {
  registry: Registry;
  submissions: Counter<'result'>;
  submittedBytes: Counter;
  notifications: Counter<'kind' | 'result'>;
  pickupBytes: Counter;
  badSecrets: Counter<'scope'>;
  receipts: Counter;
  inflightUploads: Gauge;
}

/**
 * One call in flight at a time: the gauges of one scrape (collected concurrently) share one store
 * query instead of running it once per gauge.
 */
function shared<T>(fn: () => Promise<T>): () => Promise<T | null> {
  let pending: Promise<T | null> | null = null;
  return () => {
    // A store that does not answer (an outage) leaves these gauges out of the scrape; the rest
    // of /metrics is still served.
    pending ??= fn()
      .catch(() => null)
      .finally(() => {
        pending = null;
      });
    return pending;
  };
}

const ageSeconds = (since: number | null): number =>
  since === null ? 0 : Math.max(0, (Date.now() - since) / 1000);

export function createMetrics(store: Store, disk?: DiskSpace): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sealpost_' });
  const m: Metrics = {
    registry,
    submissions: new Counter({
      name: 'sealpost_submissions_total',
      help: 'Message submissions by result (stored, or the refusal code)',
      labelNames: ['result'],
      registers: [registry],
    }),
    submittedBytes: new Counter({
      name: 'sealpost_submitted_bytes_total',
      help: 'Bytes of stored messages',
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'sealpost_mails_total',
      help: 'Notification and receipt mails by outcome (sent, retry, failed)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    pickupBytes: new Counter({
      name: 'sealpost_pickup_bytes_total',
      help: 'Bytes of message content sent to receivers',
      registers: [registry],
    }),
    badSecrets: new Counter({
      name: 'sealpost_bad_secrets_total',
      help: 'Pickup requests with a wrong or missing link secret',
      labelNames: ['scope'],
      registers: [registry],
    }),
    receipts: new Counter({
      name: 'sealpost_receipts_total',
      help: 'Receipts recorded (deliveries processed)',
      registers: [registry],
    }),
    inflightUploads: new Gauge({
      name: 'sealpost_inflight_uploads',
      help: 'Submissions being received right now',
      registers: [registry],
    }),
  };
  if (disk?.watching)
    new Gauge({
      name: 'sealpost_data_free_bytes',
      help: 'Free space in the data folder (uploads are refused below --min-free-space)',
      registers: [registry],
      async collect() {
        this.set((await disk.free()) ?? 0);
      },
    });
  new Gauge({
    name: 'sealpost_data_min_free_bytes',
    help: 'The reserve --min-free-space (0: off, or the PostgreSQL store)',
    registers: [registry],
    collect() {
      this.set(disk?.watching ? disk.reserve : 0);
    },
  });
  const mailStats = shared(() => store.outbox.stats());
  new Gauge({
    name: 'sealpost_outbox_mails',
    help: 'Mails in the outbox by state (sent, failed and cancelled ones of the last --history-days)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await mailStats();
      if (!s) return;
      this.set({ state: 'queued' }, s.queued);
      this.set({ state: 'sent' }, s.sent);
      this.set({ state: 'failed' }, s.failed);
      this.set({ state: 'cancelled' }, s.cancelled);
    },
  });
  new Gauge({
    name: 'sealpost_outbox_oldest_queued_age_seconds',
    help: 'Age of the oldest queued mail (0 when none): a stuck upstream shows here',
    registers: [registry],
    async collect() {
      const s = await mailStats();
      if (s) this.set(ageSeconds(s.oldestQueuedAt));
    },
  });
  const forwardStats = shared(() => store.forwards.stats());
  new Gauge({
    name: 'sealpost_relay_forwards',
    help: 'Mails in the SMTP relay forward queue by state (sent and failed ones of the last --history-days)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const s = await forwardStats();
      if (!s) return;
      this.set({ state: 'queued' }, s.queued);
      this.set({ state: 'sent' }, s.sent);
      this.set({ state: 'failed' }, s.failed);
    },
  });
  new Gauge({
    name: 'sealpost_relay_oldest_queued_age_seconds',
    help: 'Age of the oldest queued relay forward (0 when none): a stuck upstream shows here',
    registers: [registry],
    async collect() {
      const s = await forwardStats();
      if (s) this.set(ageSeconds(s.oldestQueuedAt));
    },
  });
  return m;
}

export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  const requests = new Counter({
    name: 'sealpost_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [metrics.registry],
  });
  const duration = new Histogram({
    name: 'sealpost_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [metrics.registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
  });
}
