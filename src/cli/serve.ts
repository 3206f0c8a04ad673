import { ConfigError, configHelp } from '../server/config.ts';
import type { Command } from './main.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Start the Sealpost server (HTTP, and the SMTP relay)',
  get usage() {
    return `sealpost serve [--data DIR | --database postgres://…] [--port 8080] [--host 127.0.0.1] [--base-url URL] [--smtp-port 2525] [--smtp-upstream smtp://host:port] [--trust-anchors FILE.pem] [--tls-cert F --tls-key F] [options]

Every option can also be set by the environment variable shown beside it.

${configHelp(process.env)}`;
  },
  async run(argv) {
    const { startServer } = await import('../server/main.ts');
    let server;
    try {
      server = await startServer(argv);
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`sealpost serve: ${e.message}\n`);
        return 78; // EX_CONFIG
      }
      throw e;
    }
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        process.stderr.write(`sealpost serve: ${signal} again, stopping now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`sealpost serve: ${signal}: finishing requests in progress, then stopping\n`);
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`sealpost serve: error while stopping: ${String(err)}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    return new Promise<number>(() => {
      /* runs until a signal stops it */
    });
  },
};
