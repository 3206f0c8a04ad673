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

export async function loadCommands(): Promise<Command[]> {
  const [serve, send, open, senders, keys, migrate] = await Promise.all([
    import('./serve.ts'),
    import('./send.ts'),
    import('./open.ts'),
    import('./senders.ts'),
    import('./keys.ts'),
    import('./migrate.ts'),
  ]);
  return [
    serve.serveCommand,
    send.sendCommand,
    open.openCommand,
    senders.sendersCommand,
    keys.keysCommand,
    migrate.migrateCommand,
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
    return 0;
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
