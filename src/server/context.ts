/**
 * What the parts of the server share, built once by the composition root (main.ts).
 */
import type { Logger } from 'pino';
import type { ServerConfig } from './config.ts';
import type { DiskSpace } from './disk-space.ts';
import type { Metrics } from './http/metrics.ts';
import type { Sealer } from './sealing.ts';
import type { Store } from './store/port.ts';
import type { TrustAnchors } from './trust-anchors.ts';

export interface ServerContext {
  config: ServerConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  sealer: Sealer;
  trustAnchors: TrustAnchors;
  /** Free space in the data folder against --min-free-space. */
  disk: DiskSpace;
  /** The clock (epoch ms); tests move it to reach expiry. */
  now(): number;
  /** Public base URL, no trailing slash (known once the server listens). */
  baseUrl(): string;
  /** From address of notifications and receipts. */
  mailFrom(): string;
  /** True when notifications go to the built-in outbox (no upstream SMTP server). */
  outboxMode: boolean;
  /** Wakes the outbox worker after new mail was queued. */
  kickOutbox(): void;
}
