import { parseArgs } from 'node:util';
import type { Command } from './main.ts';

const USAGE = 'sealpost senders add EMAIL | list | revoke EMAIL [--data DIR | --database URL] [--json]';

export const sendersCommand: Command = {
  name: 'senders',
  summary: 'Manage the senders allowed to submit (add, list, revoke)',
  usage: `${USAGE}

  add EMAIL      create a sender and print its API key (shown once; stored only as a hash)
  list           list senders
  revoke EMAIL   revoke the sender's API key
  --data DIR     the server's data folder (SEALPOST_DATA, default ./data)
  --database URL the server's PostgreSQL store, postgres://… (SEALPOST_DATABASE)
  --json         print JSON ({"email", "apiKey"} for add)`,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          data: { type: 'string' },
          database: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      });
    } catch (e) {
      process.stderr.write(`sealpost senders: ${(e as Error).message}\nUsage: ${USAGE}\n`);
      return 64;
    }
    const [action, emailArg] = parsed.positionals;
    const json = parsed.values.json === true;
    const dataDir = parsed.values.data ?? process.env.SEALPOST_DATA ?? './data';
    if (!action || !['add', 'list', 'revoke'].includes(action) || (action !== 'list' && !emailArg)) {
      process.stderr.write(`Usage: ${USAGE}\n`);
      return 64;
    }
    const { openStore, StoreConflictError } = await import('../server/store/index.ts');
    const { normalizeEmail } = await import('../server/submit/service.ts');
    const { newApiKey, hashToken, randomId } = await import('../server/secrets.ts');
    const email = emailArg ? normalizeEmail(emailArg) : null;
    if (action !== 'list' && !email) {
      process.stderr.write(`sealpost senders: "${emailArg}" is not an e-mail address\n`);
      return 64;
    }
    const database = parsed.values.database ?? process.env.SEALPOST_DATABASE ?? null;
    const store = await openStore({ dataDir, database: database || null });
    try {
      if (action === 'add') {
        const apiKey = newApiKey();
        try {
          await store.senders.add({
            id: randomId(12),
            email: email!,
            apiKeyHash: hashToken(apiKey),
            at: Date.now(),
          });
        } catch (e) {
          if (e instanceof StoreConflictError) {
            process.stderr.write(
              `sealpost senders: ${email} already exists (revoke it first to issue a new key)\n`,
            );
            return 1;
          }
          throw e;
        }
        if (json) process.stdout.write(`${JSON.stringify({ email, apiKey })}\n`);
        else
          process.stdout.write(
            `Sender ${email} added. Its API key (shown only now; keep it secret):\n\n  ${apiKey}\n\n` +
              `Submit with: npx sealpost send message.eml --api-key ${apiKey.slice(0, 6)}… (or SEALPOST_API_KEY)\n`,
          );
        return 0;
      }
      if (action === 'list') {
        const senders = await store.senders.list();
        if (json)
          process.stdout.write(
            `${JSON.stringify(
              senders.map((s) => ({
                email: s.email,
                createdAt: new Date(s.createdAt).toISOString(),
                revokedAt: s.revokedAt === null ? null : new Date(s.revokedAt).toISOString(),
                active: s.revokedAt === null,
              })),
            )}\n`,
          );
        else if (senders.length === 0) process.stdout.write('No senders yet: sealpost senders add EMAIL\n');
        else
          for (const s of senders)
            process.stdout.write(
              `${s.email.padEnd(40)} ${s.revokedAt === null ? 'active ' : 'revoked'} since ${new Date(s.revokedAt ?? s.createdAt).toISOString()}\n`,
            );
        return 0;
      }
      const revoked = await store.senders.revoke(email!, Date.now());
      if (json) process.stdout.write(`${JSON.stringify({ email, revoked })}\n`);
      else process.stdout.write(revoked ? `Sender ${email} revoked.\n` : `No active sender ${email}.\n`);
      return revoked ? 0 : 1;
    } finally {
      await store.close();
    }
  },
};
