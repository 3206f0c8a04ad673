/**
 * `sealpost serve` as a separate process (crash tests kill it with SIGKILL; benchmarks measure it
 * on its own): spawned from bin/sealpost.mjs, ready once its start banner has been printed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { hashToken, newApiKey, randomId } from '../../src/server/secrets.ts';
import type { Store } from '../../src/server/store/port.ts';
import { ROOT } from './paths.ts';

export interface ServeProcess {
  child: ChildProcess;
  /** The HTTP address. */
  url: string;
  /** The SMTP relay's port, or null when it is off. */
  smtpPort: number | null;
  /** Settles when the process has exited. */
  exited: Promise<void>;
}

/**
 * Starts `sealpost serve ARGS…`; its stderr is kept for the error message unless `inherit`. `root`
 * is the checkout to run (default this one; benchmarks compare with another commit's).
 */
export async function spawnServe(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stderr?: 'pipe' | 'inherit'; root?: string } = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(options.root ?? ROOT, 'bin/sealpost.mjs'), 'serve', ...args], {
    stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...(options.env ?? {}) },
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const { url, smtpPort } = await new Promise<{ url: string; smtpPort: number | null }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`sealpost serve did not start: ${out}`)),
      options.timeoutMs ?? 60_000,
    );
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      // The banner's health line comes after the address and the relay lines.
      if (!/\n\s*health:/.test(out)) return;
      const http = /Sealpost is listening on (http:\/\/\S+)/.exec(out);
      const smtp = /SMTP relay: +\S+:(\d+)/.exec(out);
      clearTimeout(timer);
      if (!http) reject(new Error(`no address in the start banner: ${out}`));
      else resolve({ url: http[1]!, smtpPort: smtp ? Number(smtp[1]) : null });
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sealpost serve exited (${code}): ${out}`));
    });
  });
  child.stdout!.resume();
  child.stderr?.resume();
  return { child, url, smtpPort, exited };
}

/**
 * Adds a sender with `sealpost senders add` of the checkout `root` (so that checkout's own code
 * creates the store); `store` is `--data DIR` or `--database URL`. Returns the API key.
 */
export function seedSenderWithCli(root: string, store: string[], email = 'alice@example.org'): string {
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/sealpost.mjs'), 'senders', 'add', email, ...store, '--json'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`sealpost senders add failed: ${r.stderr}`);
  const out: unknown = JSON.parse(r.stdout);
  if (typeof out !== 'object' || out === null || !('apiKey' in out) || typeof out.apiKey !== 'string')
    throw new Error(`sealpost senders add printed no key: ${r.stdout}`);
  return out.apiKey;
}

/** Adds a sender to a store; returns its API key. */
export async function seedSender(store: Store, email = 'alice@example.org'): Promise<string> {
  const apiKey = newApiKey();
  await store.senders.add({ id: randomId(12), email, apiKeyHash: hashToken(apiKey), at: Date.now() });
  return apiKey;
}
