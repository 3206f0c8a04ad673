/**
 * Real GnuPG against the test server's Web Key Directory. dirmngr looks WKD up at
 * https://openpgpkey.<domain>/ (port 443, a certificate its system CA list trusts, the name resolved
 * by DNS or /etc/hosts). Here:
 *  - gpg and its tools run in a private mount namespace (unshare -m, root) where /etc/hosts names
 *    openpgpkey.<domain> and /etc/ssl/certs/ca-certificates.crt holds only a CA made for the test
 *    (dirmngr's WKD fetch trusts exactly the system list): nothing changes for the rest of the
 *    machine;
 *  - dirmngr's `http-proxy` points at a small CONNECT proxy in the test that ends TLS with a
 *    certificate of that CA and passes the HTTP on to the test server.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';

export const WKS_CLIENT = '/usr/lib/gnupg/gpg-wks-client';

/** Why real-GnuPG WKD tests cannot run here, or null when they can (for requireRoot). */
export function gnupgWkdProblem(): string | null {
  if (spawnSync('gpg', ['--version']).status !== 0) return 'gpg is not installed (npm test installs it)';
  if (spawnSync(WKS_CLIENT, ['--version']).status !== 0)
    return `${WKS_CLIENT} is not installed (package gpg-wks-client)`;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
  if (r.status !== 0)
    return `a private mount namespace (unshare -m) is not available: ${String(r.stderr).trim()}`;
  return null;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the proxy and the server answer meanwhile). */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill(), 60_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** A test CA and a server certificate for the names, made with openssl. */
function makeTlsFiles(dir: string, names: string[]): { ca: string; cert: string; key: string } {
  const sh = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  sh([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Sealpost WKD test CA',
  ]);
  sh(['req', ...ec, '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', `/CN=${names[0]}`]);
  writeFileSync(
    join(dir, 'ext.cnf'),
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  sh([
    'x509',
    '-req',
    '-in',
    'tls.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'tls.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'tls.pem'), key: join(dir, 'tls.key') };
}

/** An HTTP CONNECT proxy that ends TLS itself and forwards the plain HTTP to 127.0.0.1:`target`. */
async function tlsFrontProxy(
  tls: { cert: string; key: string },
  target: number,
): Promise<{ server: Server; port: number; asked: string[] }> {
  const asked: string[] = [];
  const cert = readFileSync(tls.cert);
  const key = readFileSync(tls.key);
  const server = createServer((client: Socket) => {
    let head = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
      if (!m) return void client.end('HTTP/1.0 405 Only CONNECT\r\n\r\n');
      asked.push(m[1]!);
      const rest = head.subarray(end + 4);
      client.write('HTTP/1.0 200 Connection established\r\n\r\n');
      if (rest.length > 0) client.unshift(rest);
      const secure = new TLSSocket(client, { isServer: true, cert, key });
      const upstream = connect(target, '127.0.0.1');
      secure.pipe(upstream).pipe(secure);
      const close = () => {
        secure.destroy();
        upstream.destroy();
      };
      secure.on('error', close);
      upstream.on('error', close);
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0, asked };
}

export interface GnupgWkd {
  /** GNUPGHOME of the test's gpg. */
  home: string;
  /** CONNECT targets dirmngr asked the proxy for. */
  asked: string[];
  /** Runs a GnuPG program (gpg, gpg-wks-client, …) in the namespace with the test's GNUPGHOME. */
  run(program: string, args: string[], input?: string): Promise<RunResult>;
  /** dirmngr's log, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

/** Sets up GnuPG to look `domain` up by WKD at the test server on `serverPort` (plain HTTP). */
export async function gnupgAgainstWkd(domain: string, serverPort: number): Promise<GnupgWkd> {
  const dir = mkdtempSync(join(tmpdir(), 'sp-wkd-'));
  const home = join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  const tls = makeTlsFiles(dir, [`openpgpkey.${domain}`, domain]);
  const proxy = await tlsFrontProxy(tls, serverPort);
  writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n127.0.0.1 openpgpkey.${domain} ${domain}\n`);
  writeFileSync(
    join(home, 'dirmngr.conf'),
    `http-proxy http://127.0.0.1:${proxy.port}\nstandard-resolver\nlog-file ${join(dir, 'dirmngr.log')}\ndebug-level basic\n`,
  );
  const env = { ...process.env, GNUPGHOME: home };
  return {
    home,
    asked: proxy.asked,
    run: (program, args, input) =>
      run(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && shift && exec "$@"',
          join(dir, 'hosts'),
          tls.ca,
          program,
          ...args,
        ],
        { input, env },
      ),
    log() {
      try {
        return readFileSync(join(dir, 'dirmngr.log'), 'utf8');
      } catch {
        return '(no dirmngr log)';
      }
    },
    async close() {
      spawnSync('gpgconf', ['--kill', 'all'], { env });
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
