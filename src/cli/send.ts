import type { Command } from './main.ts';

export const sendCommand: Command = {
  name: 'send',
  summary: 'Submit a secure message to a Sealpost server',
  usage: 'sealpost send FILE [--to ADDR]... [--server URL] [--api-key KEY]',
  async run() {
    process.stderr.write('sealpost send: not yet implemented\n');
    return 2;
  },
};
