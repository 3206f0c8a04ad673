/**
 * The server's composition root: reads the settings, opens the store, recovers from a crash, starts
 * the HTTP server and the workers (notification outbox, purge), and stops them all in order.
 * Nothing runs on import; `sealpost serve` calls startServer().
 */
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { DestinationStream } from 'pino';
import { ConfigError, loadConfig, type ServerConfig } from './config.ts';
import { loadNodeId } from './node-id.ts';
import { DiskSpace } from './disk-space.ts';
import type { ServerContext } from './context.ts';
import { buildApp } from './http/app.ts';
import { createMetrics } from './http/metrics.ts';
import { createLogger } from './log.ts';
import { createOutboxTransport, createSmtpTransport } from './notify/transport.ts';
import { OutboxWorker } from './notify/worker.ts';
import { createReceiverAssets, type ReceiverAssets } from './pickup/assets.ts';
import { PurgeWorker } from './purge.ts';
import { createForwardTransport, ForwardWorker } from './relay/forwarder.ts';
import { RelayServer } from './relay/server.ts';
import { loadRelayTls } from './relay/tls.ts';
import { createSealer, loadSealingKey } from './sealing.ts';
import { redactSecrets } from './redact.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/port.ts';
import { loadTrustAnchors } from './trust-anchors.ts';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Where JSON logs go (default: stdout). */
  logDestination?: DestinationStream;
  /** Where the start banner goes (default: stdout); null = nowhere. */
  print?: ((text: string) => void) | null;
  /** The clock (epoch ms). */
  now?: () => number;
  /** How often the outbox worker looks for due mail (default 1 s). */
  outboxPollMs?: number;
  /** How often the relay's forward worker looks for due forwards (default 1 s). */
  forwardPollMs?: number;
  /** The receiver files to serve instead of the ones --receiver-dir / dist/receiver name. */
  receiverAssets?: ReceiverAssets;
}

export interface RunningServer {
  /** The address it listens on. */
  url: string;
  /** The public base URL used in links. */
  baseUrl: string;
  config: ServerConfig;
  store: Store;
  app: FastifyInstance;
  /** The SMTP relay's port; null when it is off (--smtp-port off). */
  smtpPort: number | null;
  /** Runs one purge pass now (expiry and body removal). */
  purgeNow(): Promise<void>;
  /** Stops accepting, finishes in-flight requests (up to --shutdown-timeout), stops the workers. */
  close(): Promise<void>;
}

async function readTls(config: ServerConfig): Promise<{ key: Buffer; cert: Buffer } | null> {
  if (!config.tlsCert || !config.tlsKey) return null;
  try {
    return { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) };
  } catch (e) {
    throw new ConfigError([
      `--tls-cert/--tls-key: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
    ]);
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(argv: string[], options: StartOptions = {}): Promise<RunningServer> {
  const config = loadConfig(argv, options.env ?? process.env);
  const now = options.now ?? Date.now;
  const print = options.print === undefined ? (t: string) => process.stdout.write(t) : options.print;
  const logger = createLogger(config.logLevel, options.logDestination);
  const trustAnchors = await loadTrustAnchors(config.trustAnchors);
  if (config.receiverDir && !existsSync(join(config.receiverDir, 'index.html')))
    throw new ConfigError([
      `--receiver-dir: ${config.receiverDir} has no index.html (build the receiver first).`,
    ]);
  const tls = await readTls(config);

  let store: Store;
  try {
    store = await openStore({
      dataDir: config.data,
      database: config.database,
      poolSize: config.databasePool,
      nodeId: await loadNodeId(config.data),
      onError: (err) => logger.warn({ err }, 'database connection lost (the pool reconnects)'),
    });
  } catch (e) {
    if (!config.database) throw e;
    throw new ConfigError([
      `--database: cannot open the PostgreSQL store at ${redactSecrets(config.database)} (${redactSecrets((e as Error).message)}).`,
    ]);
  }
  const recovered = await store.recover();
  if (recovered.removedStaged + recovered.removedOrphans > 0)
    logger.warn(recovered, 'removed uncommitted message files left by an interrupted run');
  const releasedClaims = await store.releaseOwnClaims();
  if (releasedClaims > 0)
    logger.warn({ releasedClaims }, 'took back the mails this node was sending when its previous run ended');
  const sealer = createSealer(await loadSealingKey(config.data, config.sealingKey));
  const disk = new DiskSpace(store.kind === 'sqlite' ? resolve(config.data) : null, config.minFreeSpace);
  const metrics = createMetrics(store, disk);

  let baseUrl = config.baseUrl ?? '';
  let worker: OutboxWorker | null = null;
  const ctx: ServerContext = {
    config,
    store,
    logger,
    metrics,
    sealer,
    trustAnchors,
    disk,
    now,
    baseUrl: () => baseUrl,
    mailFrom: () => {
      if (config.mailFrom) return config.mailFrom;
      const host = new URL(baseUrl).hostname;
      const domain = /^[\d.]+$|^\[|:/.test(host) ? 'localhost' : host;
      return `"${config.brandName.replace(/["\\\r\n]/g, '')}" <sealpost@${domain}>`;
    },
    outboxMode: config.smtpUpstream === null,
    kickOutbox: () => worker?.kick(),
  };
  const transport = config.smtpUpstream
    ? createSmtpTransport(config.smtpUpstream)
    : createOutboxTransport(store, sealer, now);
  const assets = options.receiverAssets ?? createReceiverAssets(config.receiverDir, config.brandName);

  let ready = false;
  let closing = false;
  const app = await buildApp(ctx, {
    assets,
    tls,
    isReady: () => ready && !closing,
    isClosing: () => closing,
  });
  let url: string;
  try {
    url = await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new ConfigError([`--port/--host: cannot listen on ${config.host}:${config.port} (${code}).`]);
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if (!config.baseUrl) baseUrl = `${tls ? 'https' : 'http'}://${urlHost(config.host)}:${port}`;

  worker = new OutboxWorker(ctx, transport, {
    pollMs: options.outboxPollMs ?? 1000,
    leaseMs: config.notifyLeaseMs,
  });
  worker.start();
  const purge = new PurgeWorker(ctx);
  purge.start();

  // The SMTP relay, and the worker forwarding the plain mail it queues.
  let relay: RelayServer | null = null;
  let forwarder: ForwardWorker | null = null;
  let smtpPort: number | null = null;
  const smtpHost = config.smtpHost ?? config.host;
  if (config.smtpPort !== null) {
    const baseHost = new URL(baseUrl).hostname;
    const hostname = /^[\d.]+$|^\[|:|^localhost$/.test(baseHost) ? osHostname() : baseHost;
    const relayTls = await loadRelayTls({
      dataDir: config.data,
      certFile: config.tlsCert,
      keyFile: config.tlsKey,
      hostname,
    });
    if (config.smtpUpstream) {
      forwarder = new ForwardWorker(ctx, createForwardTransport(config.smtpUpstream, hostname), hostname, {
        pollMs: options.forwardPollMs ?? 1000,
      });
      forwarder.start();
    }
    relay = new RelayServer(ctx, { tls: relayTls, hostname, onQueued: () => forwarder?.kick() });
    try {
      smtpPort = await relay.listen(config.smtpPort, smtpHost);
    } catch (e) {
      await forwarder?.stop();
      await app.close();
      await worker.stop();
      await purge.stop();
      transport.close();
      await store.close();
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
        throw new ConfigError([
          `--smtp-port/--smtp-host: cannot listen on ${smtpHost}:${config.smtpPort} (${code}); use --smtp-port off to run without the relay.`,
        ]);
      throw e;
    }
  }
  ready = true;

  const senders = (await store.senders.list()).filter((s) => s.revokedAt === null).length;
  logger.info(
    {
      url,
      baseUrl,
      store: store.kind,
      data: config.database ? redactSecrets(config.database) : resolve(config.data),
      outbox: ctx.outboxMode,
      receiver: assets.kind,
    },
    'sealpost listening',
  );
  if (print) {
    const lines = [
      `Sealpost is listening on ${url}`,
      `  send form:     ${baseUrl}/send`,
      ctx.outboxMode
        ? `  outbox:        ${baseUrl}/outbox   (no --smtp-upstream: notifications are kept here, not mailed)`
        : `  notifications: mailed through ${new URL(config.smtpUpstream!).host}`,
      `  API:           ${baseUrl}/api/v1/openapi.json`,
      smtpPort === null
        ? '  SMTP relay:    off'
        : `  SMTP relay:    ${urlHost(smtpHost)}:${smtpPort} (STARTTLS; AUTH with a sender's address and API key${config.smtpTrustedNetworks.list.length > 0 ? `; trusted: ${config.smtpTrustedNetworks.list.join(', ')}` : ''}${config.smtpUpstream ? '' : '; secure mail only, no upstream to forward to'})`,
      `  health:        ${baseUrl}/healthz`,
      config.database
        ? `  store:         PostgreSQL ${redactSecrets(config.database)} (shared by every node)`
        : `  data:          ${resolve(config.data)}`,
      `  receiver:      ${assets.kind === 'dist' ? assets.dir : 'built-in minimal page (no dist/receiver)'}`,
      senders > 0
        ? `  senders:       ${senders}`
        : `  senders:       none yet — create one with: npx sealpost senders add you@example.org ${config.database ? '--database $SEALPOST_DATABASE' : `--data ${config.data}`}`,
      '',
    ];
    print(`${lines.join('\n')}`);
  }

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      await relay?.close();
      const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
      force.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await worker?.stop();
      await forwarder?.stop();
      await purge.stop();
      transport.close();
      await store.close();
      logger.info('sealpost stopped');
    })();
    return closed;
  };

  return { url, baseUrl, config, store, app, smtpPort, purgeNow: () => purge.runOnce(), close };
}
