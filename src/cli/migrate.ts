import { parseArgs } from 'node:util';
import type { Command } from './main.ts';

const USAGE = 'sealpost migrate --from DIR --to postgres://user@host:5432/database';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Copy an embedded store into PostgreSQL',
  usage: `${USAGE}

  --from DIR   the data folder of a stopped server (SQLite database and message files)
  --to URL     an empty PostgreSQL database (SEALPOST_DATABASE); the schema is created
  --quiet      print only errors

Copies every table and every stored message body into PostgreSQL in one transaction: the target
ends up with all of it or none of it. Stop the server first. Afterwards start every node with
--database URL, the same --base-url, and --sealing-key set to the data folder's sealing.key
(base64), which seals the links of notifications not yet sent.`,
  async run(argv) {
    let values;
    try {
      values = parseArgs({
        args: argv,
        options: {
          from: { type: 'string' },
          to: { type: 'string' },
          quiet: { type: 'boolean', default: false },
        },
      }).values;
    } catch (e) {
      process.stderr.write(`sealpost migrate: ${(e as Error).message}\nUsage: ${USAGE}\n`);
      return 64;
    }
    const to = values.to ?? process.env.SEALPOST_DATABASE;
    if (!values.from || !to) {
      process.stderr.write(`Usage: ${USAGE}\n`);
      return 64;
    }
    if (!/^postgres(ql)?:\/\//.test(to)) {
      process.stderr.write('sealpost migrate: --to must be a postgres:// URL\n');
      return 64;
    }
    const { copySqliteToPostgres, CopyError } = await import('../server/store/copy-to-postgres.ts');
    const { redactSecrets } = await import('../server/redact.ts');
    const say = (s: string): void => {
      if (!values.quiet) process.stdout.write(`${s}\n`);
    };
    say(`Copying ${values.from} into ${redactSecrets(to)} …`);
    try {
      const r = await copySqliteToPostgres({ from: values.from, to, log: (l) => say(`  ${l}`) });
      say(
        `Done: ${r.senders} senders, ${r.messages} messages (${r.bodies} bodies, ${r.bytes} bytes), ` +
          `${r.deliveries} deliveries, ${r.events} events, ${r.mails} outbox mails, ${r.forwards} relay forwards.`,
      );
      if (r.missingBodies.length > 0)
        process.stderr.write(
          `sealpost migrate: ${r.missingBodies.length} bodies were missing from the data folder (recorded as purged/failed): ${r.missingBodies.slice(0, 10).join(', ')}\n`,
        );
      if (r.sealedPending > 0)
        say(
          `${r.sealedPending} notifications are still queued: start the nodes with\n` +
            `  SEALPOST_SEALING_KEY="$(base64 -w0 ${values.from}/sealing.key)"`,
        );
      else say('Start the nodes with the same --sealing-key everywhere (openssl rand -base64 32 makes one).');
      return 0;
    } catch (e) {
      if (e instanceof CopyError) {
        process.stderr.write(`sealpost migrate: ${e.message}\n`);
        return 1;
      }
      process.stderr.write(`sealpost migrate: ${redactSecrets((e as Error).message)}\n`);
      return 1;
    }
  },
};
