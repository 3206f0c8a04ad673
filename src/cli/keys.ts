import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  SealpostError,
  describeCertificateDer,
  exportPrivateKey,
  importKeyFiles,
  type KeyEntry,
} from '../core/index.ts';
import { CliError, readFileBytes } from './keyargs.ts';
import type { Command } from './main.ts';

const USAGE = `sealpost keys show FILE... [--passphrase P] [--json]
       sealpost keys export FILE... --out OUT --new-passphrase P [--passphrase P]

  show     list what key files hold: PKCS#12 identities, PKCS#8 private keys with their
           certificates, certificates, OpenPGP keys, with each key's algorithm
  export   re-export an S/MIME identity as PKCS#12 (AES-256-CBC, PBKDF2-SHA256) or an OpenPGP
           secret key (armored), protected by --new-passphrase

  FILE...  read together: a PKCS#8 private key (PEM or DER, plain or encrypted; RSA, EC, X25519/X448,
           Ed25519/Ed448, ML-KEM in the seed, expanded or both form, ML-DSA, SLH-DSA) is paired with
           the certificate holding its public key, in the same PEM or another FILE`;

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
      if (positionals.length === 0) throw new CliError(`Give a key file.\nUsage: ${USAGE}`);
      const files: Uint8Array[] = [];
      for (const path of positionals) files.push(await readFileBytes(path, 'key file'));
      const entries = await importKeyFiles(
        files,
        values.passphrase !== undefined ? { passphrase: values.passphrase } : {},
      );
      if (sub === 'show') {
        const rows = await Promise.all(entries.map(summary));
        if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else
          for (const r of rows)
            process.stdout.write(
              `${r.type.padEnd(16)} ${r.id}  ${r.label}${r.algorithm ? `  [${r.algorithm}]` : ''}\n`,
            );
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

async function summary(
  e: KeyEntry,
): Promise<{ type: string; id: string; label: string; algorithm?: string; trusted?: boolean }> {
  // The certificate's key algorithm by name ("ML-KEM-768", "Ed25519", "RSA 2048").
  const algorithm =
    e.type === 'smime-private' || e.type === 'certificate'
      ? (await describeCertificateDer(e.certificate)).publicKeyAlgorithm
      : undefined;
  return {
    type: e.type,
    id: e.id,
    label: e.label,
    ...(algorithm ? { algorithm } : {}),
    ...('trusted' in e ? { trusted: e.trusted } : {}),
  };
}
