/**
 * Connections per client address: one address holding thousands of idle connections would use up
 * the process's file descriptors and lock everyone out. Past `max` open connections from one
 * address (an IPv6 client by its /64, as the rate limits count: client-bucket.ts) a new connection
 * is closed at once. Loopback is exempt, so the node's own health checks and metrics scrapes always
 * get through. Behind a reverse proxy (--trust-proxy) every connection comes from the proxy: the
 * cap is then the proxy's job and this one is off.
 */
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { clientBucket } from '../client-bucket.ts';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export function capConnectionsPerClient(server: Server, max: number, logger: Logger): void {
  const open = new Map<string, number>();
  let lastWarned = 0;
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    if (LOOPBACK.test(address)) return;
    const key = clientBucket(address);
    const n = (open.get(key) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      const now = Date.now();
      if (now - lastWarned > 10_000) {
        lastWarned = now;
        logger.warn({ client: key, limit: max }, 'http: too many connections from one address (closed)');
      }
      return;
    }
    open.set(key, n);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  });
}
