import type { Command } from './main.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Copy an embedded store into PostgreSQL',
  usage: 'sealpost migrate --from DIR --to postgres://...',
  async run() {
    process.stderr.write('sealpost migrate: not yet implemented\n');
    return 2;
  },
};
