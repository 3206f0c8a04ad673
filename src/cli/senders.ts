import type { Command } from './main.ts';

export const sendersCommand: Command = {
  name: 'senders',
  summary: 'Manage the senders allowed to submit (add, list, revoke)',
  usage: 'sealpost senders add|list|revoke [EMAIL] [--data DIR] [--json]',
  async run() {
    process.stderr.write('sealpost senders: not yet implemented\n');
    return 2;
  },
};
