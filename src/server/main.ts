/**
 * The server's composition root (minimal until the delivery-server issue lands: /healthz only).
 */
import Fastify from 'fastify';
import { parseArgs } from 'node:util';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(argv: string[]): Promise<RunningServer> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: process.env.SEALPOST_PORT ?? '8080' },
      host: { type: 'string', default: process.env.SEALPOST_HOST ?? '127.0.0.1' },
    },
    strict: false,
  });
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  const address = await app.listen({ port: Number(values.port), host: String(values.host) });
  process.stdout.write(`Sealpost listening on ${address}\n  health: ${address}/healthz\n`);
  return { url: address, close: () => app.close() };
}
