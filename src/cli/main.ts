/**
 * The `sealpost` command line: the composition root of the CLI. Nothing runs on import; bin/sealpost.mjs
 * calls main() with the arguments and sets the exit code from its result.
 */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

function notYet(name: string, summary: string, usage: string): Command {
  return {
    name,
    summary,
    usage,
    async run() {
      process.stderr.write(`sealpost ${name}: not yet implemented\n`);
      return 2;
    },
  };
}

export async function loadCommands(): Promise<Command[]> {
  const { serveCommand } = await import('./serve.ts');
  return [
    serveCommand,
    notYet(
      'send',
      'Submit a secure message to a Sealpost server',
      'sealpost send FILE [--to ADDR]... [--server URL] [--api-key KEY]',
    ),
    notYet(
      'open',
      'Decrypt and verify a secure message, print the report',
      'sealpost open FILE [--key PATH]... [--passphrase P] [--password P] [--trust PATH]... [--json] [--save-attachments DIR]',
    ),
    notYet(
      'senders',
      'Manage the senders allowed to submit (add, list, revoke)',
      'sealpost senders add|list|revoke [EMAIL] [--data DIR] [--json]',
    ),
    notYet('keys', 'Manage a local keyring (import, list, export)', 'sealpost keys import|list|export ...'),
    notYet(
      'migrate',
      'Copy an embedded store into PostgreSQL',
      'sealpost migrate --from DIR --to postgres://...',
    ),
  ];
}

export function helpText(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Sealpost — secure e-mail delivered to any browser.',
    '',
    'Usage: sealpost <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "sealpost <command> --help" for the options of a command.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(helpText(commands));
    return name ? 0 : argv.length === 0 ? 0 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`sealpost: unknown command "${name}"\n\n${helpText(commands)}`);
    return 64;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}
