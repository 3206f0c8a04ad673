import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { SealpostError, exportPrivateKey, importKeyFile, type KeyEntry } from '../core/index.ts';
import { CliError, readFileBytes } from './keyargs.ts';
import type { Command } from './main.ts';

const USAGE = `sealpost keys show FILE [--passphrase P] [--json]
       sealpost keys export FILE --out OUT --new-passphrase P [--passphrase P]

  show     list what a key file holds: PKCS#12 identities, certificates, OpenPGP keys
  export   re-export a PKCS#12 identity (AES-256-CBC, PBKDF2-SHA256) or an OpenPGP secret key
           (armored), protected by --new-passphrase`;

export const keysCommand: Command = {
  name: 'keys',
  summary: 'Inspect and convert key files (show, export)',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    try {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          passphrase: { type: 'string' },
          'new-passphrase': { type: 'string' },
          out: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      });
      if (positionals.length !== 1) throw new CliError(`Give exactly one key file.\nUsage: ${USAGE}`);
      const bytes = await readFileBytes(positionals[0]!, 'key file');
      const entries = await importKeyFile(
        bytes,
        values.passphrase !== undefined ? { passphrase: values.passphrase } : {},
      );
      if (sub === 'show') {
        if (values.json) process.stdout.write(`${JSON.stringify(entries.map(summary))}\n`);
        else
          for (const e of entries)
            process.stdout.write(`${summary(e).type.padEnd(16)} ${e.id}  ${e.label}\n`);
        return 0;
      }
      if (sub === 'export') {
        if (!values.out || !values['new-passphrase'])
          throw new CliError('export needs --out and --new-passphrase.');
        const secret = entries.find((e) => e.type === 'smime-private' || e.type === 'openpgp-private');
        if (!secret) throw new CliError('The file holds no private key to export.');
        const out = (await exportPrivateKey(secret, values['new-passphrase'])).data;
        await writeFile(values.out, out, { flag: 'wx', mode: 0o600 });
        process.stdout.write(`Wrote ${values.out}\n`);
        return 0;
      }
      throw new CliError(`Unknown keys subcommand "${sub ?? ''}".\nUsage: ${USAGE}`);
    } catch (e) {
      if (e instanceof SealpostError) {
        process.stderr.write(`sealpost keys: ${e.message} [${e.code}]\n`);
        return 1;
      }
      process.stderr.write(`sealpost keys: ${e instanceof Error ? e.message : String(e)}\n`);
      return e instanceof CliError ? 64 : 1;
    }
  },
};

function summary(e: KeyEntry): { type: string; id: string; label: string; trusted?: boolean } {
  return { type: e.type, id: e.id, label: e.label, ...('trusted' in e ? { trusted: e.trusted } : {}) };
}
