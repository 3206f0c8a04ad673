import type { Command } from './main.ts';

export const openCommand: Command = {
  name: 'open',
  summary: 'Decrypt and verify a secure message, print the report',
  usage:
    'sealpost open FILE [--key PATH]... [--passphrase P] [--password P] [--trust PATH]... [--json] [--save-attachments DIR]',
  async run() {
    process.stderr.write('sealpost open: not yet implemented\n');
    return 2;
  },
};
