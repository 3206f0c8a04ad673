/**
 * Relay test helpers: a Sealpost server with its SMTP relay on a free port, an upstream stand-in
 * (smtp-server) that can refuse chosen recipients, and two real SMTP clients — nodemailer, and
 * Debian's swaks run as a child process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import nodemailer from 'nodemailer';
import { createSmtpSink, startTestServer, type SmtpSink, type TestServer } from '../helpers.ts';
import { provided } from '../../helpers/paths.ts';

export interface RelayServer extends TestServer {
  smtpPort: number;
}

/** A server whose relay listens on a free port, with AUTH allowed without TLS (loopback tests). */
export async function startRelay(
  upstreamPort: number | null,
  args: string[] = [],
  opts: { insecureAuth?: boolean } = {},
): Promise<RelayServer> {
  const t = await startTestServer({
    args: [
      '--smtp-port',
      '0',
      ...(opts.insecureAuth === false ? [] : ['--smtp-allow-insecure-auth']),
      ...(upstreamPort === null ? [] : ['--smtp-upstream', `smtp://127.0.0.1:${upstreamPort}`]),
      '--smtp-retry-base',
      '200ms',
      '--smtp-retry-max',
      '1s',
      // The fixtures carry their makers' From headers; hostile-clients.test.ts checks the default.
      '--smtp-from-check',
      'false',
      ...args,
    ],
  });
  if (t.server.smtpPort === null) throw new Error('the relay did not start');
  return Object.assign(t, { smtpPort: t.server.smtpPort });
}

/** An upstream mail server stand-in: keeps what it gets, can refuse chosen recipients. */
export type Upstream = SmtpSink;
export const createUpstream = createSmtpSink;

export interface SendOptions {
  port: number;
  from: string;
  to: string[];
  raw: Buffer;
  auth?: { user: string; pass: string };
  /** Use STARTTLS (self-signed certificate accepted). */
  tls?: boolean;
}

export interface SendOutcome {
  ok: boolean;
  /** The final reply (250 text, or the error's). */
  response: string;
  code: number | null;
}

/** Sends one message with nodemailer; never throws (the outcome says what happened). */
export async function sendWithNodemailer(o: SendOptions): Promise<SendOutcome> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: o.port,
    secure: false,
    ignoreTLS: !o.tls,
    requireTLS: !!o.tls,
    tls: { rejectUnauthorized: false },
    ...(o.auth ? { auth: o.auth } : {}),
    connectionTimeout: 10_000,
    socketTimeout: 30_000,
  });
  try {
    const info = (await transport.sendMail({ envelope: { from: o.from, to: o.to }, raw: o.raw })) as {
      response: string;
    };
    return { ok: true, response: info.response, code: Number(info.response.slice(0, 3)) };
  } catch (e) {
    const err = e as { response?: string; responseCode?: number; message: string };
    return { ok: false, response: err.response ?? err.message, code: err.responseCode ?? null };
  } finally {
    transport.close();
  }
}

export const hasSwaks = spawnSync('sh', ['-c', 'command -v swaks'], { stdio: 'ignore' }).status === 0;

/** swaks is installed by `npm test` (scripts/test.mjs): missing, it fails CI (see helpers/paths.ts). */
export function requireSwaks(): boolean {
  return provided('swaks tests', hasSwaks, 'swaks is missing (apt-get install swaks libnet-ssleay-perl)');
}

/** Runs swaks (asynchronously: the server under test runs in this process); exit code and output. */
export function swaks(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('swaks', ['--server', '127.0.0.1', '--timeout', '20', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** The DATA swaks sends for `--data FILE`: the file with CRLF line ends and one more CRLF. */
export function swaksBytes(path: string): Buffer {
  return Buffer.concat([crlf(readFileSync(path)), Buffer.from('\r\n')]);
}

/** The id in a relay 250 reply: "… Diverted to web delivery as <id> …" or "Queued as <id>". */
export function idIn(response: string): { kind: 'diverted' | 'queued'; id: string } {
  const d = /Diverted to web delivery as ([A-Za-z0-9_-]+)/.exec(response);
  if (d) return { kind: 'diverted', id: d[1]! };
  const q = /Queued as ([A-Za-z0-9_-]+)/.exec(response);
  if (q) return { kind: 'queued', id: q[1]! };
  throw new Error(`no id in: ${response}`);
}

/** A message as an SMTP client would send it: CRLF line ends. */
export function crlf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** A bare SMTP dialogue over a socket: send a line, read the (multi-line) reply. */
export class RawSmtp {
  private buffer = '';
  private waiting: (() => void) | null = null;
  closed = false;
  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (c: Buffer) => {
      this.buffer += c.toString('latin1');
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawSmtp> {
    const socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawSmtp(socket);
  }

  /** The next complete reply ("250-…\r\n250 …\r\n"), or '' when the connection closed first. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[0];
      }
      if (this.closed) return '';
      if (Date.now() > until) throw new Error(`no reply; have ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 50);
      });
      this.waiting = null;
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** STARTTLS and the TLS handshake (any certificate accepted). */
  async startTls(): Promise<string> {
    const r = await this.command('STARTTLS');
    if (!r.startsWith('220')) return r;
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return r;
  }

  get peerCertificate(): ReturnType<TLSSocket['getPeerCertificate']> | null {
    return this.socket instanceof TLSSocket ? this.socket.getPeerCertificate() : null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** AUTH PLAIN's initial response for a user and password. */
export function plainAuth(user: string, pass: string): string {
  return Buffer.from(`\0${user}\0${pass}`).toString('base64');
}
