/**
 * Test helpers for the delivery server: a real server on port 0 with a temp data folder and
 * captured JSON logs, a real SMTP sink (smtp-server) standing in for the upstream mail server, and
 * small HTTP helpers.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { startServer, type RunningServer, type StartOptions } from '../../src/server/main.ts';
import { hashToken, newApiKey, randomId } from '../../src/server/secrets.ts';
import { CORPUS } from '../helpers/paths.ts';

export const corpusMessage = (name: string): string => join(CORPUS, 'messages', name);

export interface TestServer {
  server: RunningServer;
  url: string;
  dir: string;
  logs: string[];
  apiKey: string;
  senderEmail: string;
  /** Adds another sender; returns its API key. */
  addSender(email: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: { args?: string[]; env?: NodeJS.ProcessEnv; now?: () => number; dir?: string } & Pick<
    StartOptions,
    'outboxPollMs' | 'receiverAssets'
  > = {},
): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'sealpost-srv-')));
  const logs: string[] = [];
  const server = await startServer(
    // The SMTP relay is off unless a test asks for it (--smtp-port 0): parallel servers, one port 2525.
    ['--data', dir, '--port', '0', '--smtp-port', 'off', '--log-level', 'debug', ...(opts.args ?? [])],
    {
      env: opts.env ?? {},
      print: null,
      now: opts.now,
      outboxPollMs: opts.outboxPollMs ?? 100,
      ...(opts.receiverAssets ? { receiverAssets: opts.receiverAssets } : {}),
      logDestination: { write: (s: string) => void logs.push(s) },
    },
  );
  const addSender = async (email: string): Promise<string> => {
    const key = newApiKey();
    await server.store.senders.add({ id: randomId(12), email, apiKeyHash: hashToken(key), at: Date.now() });
    return key;
  };
  const senderEmail = 'alice@example.org';
  const apiKey = await addSender(senderEmail);
  return {
    server,
    url: server.url,
    dir,
    logs,
    apiKey,
    senderEmail,
    addSender,
    async close() {
      await server.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  /** The `Received:` field the Sealpost relay added on top (forwarded mail), or null. */
  trace: string | null;
  /** The message as its sender sent it: `raw` after the relay's trace field. */
  original: Buffer;
}

export interface SmtpSink {
  port: number;
  mails: ReceivedMail[];
  /** Recipients refused at RCPT TO with this reply code (e.g. 451 or 550). */
  refuse: Map<string, number>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when at least n mails arrived (or rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The Sealpost relay's `Received:` field (with its folded lines) at the top of a message, if any. */
export function relayTrace(raw: Buffer): string | null {
  const text = raw.subarray(0, 4096).toString('latin1');
  const m = /^Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/.exec(text);
  return m && m[0].includes('(Sealpost relay)') ? m[0] : null;
}

/** An SMTP server that keeps every message it receives. Not started until start(). */
export async function createSmtpSink(port?: number): Promise<SmtpSink> {
  const p = port ?? (await freePort());
  const mails: ReceivedMail[] = [];
  const refuse = new Map<string, number>();
  let server: SMTPServer | null = null;
  return {
    port: p,
    mails,
    refuse,
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onRcptTo(address, _session, cb) {
          const code = refuse.get(address.address.toLowerCase());
          if (code === undefined) return cb();
          const err = new Error(code >= 500 ? 'No such user here' : 'Try again later') as Error & {
            responseCode: number;
          };
          err.responseCode = code;
          cb(err);
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks);
            const trace = relayTrace(raw);
            mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw,
              trace,
              original: trace === null ? raw : raw.subarray(trace.length),
            });
            callback();
          });
        },
      });
      server.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(p, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = null;
    },
    async waitFor(n, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (mails.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} mails, got ${mails.length}`);
        await sleep(25);
      }
      return mails;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function parseMail(raw: Buffer | string) {
  return PostalMime.parse(raw);
}

/** The delivery link in a notification's text: { link, id, secret }. */
export function linkIn(text: string): { link: string; id: string; secret: string } {
  const m = /(https?:\/\/\S+\/m\/([A-Za-z0-9_-]+)#([A-Za-z0-9_-]+))/.exec(text);
  if (!m) throw new Error(`no delivery link in: ${text.slice(0, 300)}`);
  return { link: m[1]!, id: m[2]!, secret: m[3]! };
}

export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = 'condition',
) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Files left in the data folder's staging and message directories. */
export async function storedFiles(dir: string): Promise<{ tmp: string[]; messages: string[] }> {
  const tmp = await readdir(join(dir, 'tmp'));
  const messages: string[] = [];
  for (const shard of await readdir(join(dir, 'messages'))) {
    for (const f of await readdir(join(dir, 'messages', shard))) messages.push(`${shard}/${f}`);
  }
  return { tmp, messages };
}

export async function submit(
  t: Pick<TestServer, 'url' | 'apiKey'>,
  body: Uint8Array | string,
  query = '',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${t.url}/api/v1/messages${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'message/rfc822', ...headers },
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
}

/** The built-in outbox's mails (loopback only). */
export async function outbox(
  url: string,
): Promise<{ to: string; subject: string; text: string; html: string }[]> {
  const r = await fetch(`${url}/api/v1/outbox`);
  if (r.status !== 200) throw new Error(`outbox: HTTP ${r.status}`);
  return r.json() as Promise<{ to: string; subject: string; text: string; html: string }[]>;
}
