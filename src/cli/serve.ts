import type { Command } from './main.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Start the Sealpost server (HTTP, and the SMTP relay)',
  usage:
    'sealpost serve [--data DIR] [--port 8080] [--host 127.0.0.1] [--base-url URL] [--smtp-port 2525] [--smtp-upstream smtp://host:port] [--trust-anchors FILE.pem] [--tls-cert F --tls-key F]',
  async run(argv) {
    const { startServer } = await import('../server/main.ts');
    const server = await startServer(argv);
    const stop = async (): Promise<void> => {
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    return new Promise<number>(() => {
      /* runs until a signal stops it */
    });
  },
};
