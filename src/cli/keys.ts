import type { Command } from './main.ts';

export const keysCommand: Command = {
  name: 'keys',
  summary: 'Inspect and convert key files (show, export)',
  usage:
    'sealpost keys show FILE [--passphrase P] | keys export FILE --out OUT [--passphrase P] [--new-passphrase P]',
  async run() {
    process.stderr.write('sealpost keys: not yet implemented\n');
    return 2;
  },
};
