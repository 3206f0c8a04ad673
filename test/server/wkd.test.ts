/**
 * Web Key Directory: the URL forms (against GnuPG's own hashing), the served answers (binary key
 * reduced to the address's user ID, CORS, policy file, only --wkd-domain domains, revoked and
 * replaced keys gone), and real GnuPG finding a published key by WKD and encrypting to it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { decrypt, decryptKey, generateKey, readKey, readMessage, readPrivateKey, revokeKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wkdHash, wkdUrls } from '../../src/core/index.ts';
import { ConfigError, loadConfig } from '../../src/server/config.ts';
import { CORPUS, requireRoot, requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  linkIn,
  outbox,
  startTestServer,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

const WKS_CLIENT = '/usr/lib/gnupg/gpg-wks-client';
const shared = requireShared('Web Key Directory tests over the interop corpus');
const key = (name: string): string => readFileSync(join(CORPUS, 'keys', name), 'utf8');

describe('--wkd-domain', () => {
  it('is repeatable, comma-separated in the variable, lowercased, and checked', () => {
    expect(loadConfig(['--wkd-domain', 'Example.NET', '--wkd-domain', 'b.example'], {}).wkdDomains).toEqual([
      'example.net',
      'b.example',
    ]);
    expect(loadConfig([], { SEALPOST_WKD_DOMAIN: 'a.example, b.example' }).wkdDomains).toEqual([
      'a.example',
      'b.example',
    ]);
    expect(loadConfig([], {}).wkdDomains).toEqual([]);
    expect(() => loadConfig(['--wkd-domain', 'not a domain'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--wkd-domain', 'x%.example'], {})).toThrow(/--wkd-domain/);
  });
});

describe('WKD addressing', () => {
  it('hashes and builds URLs exactly as GnuPG does', () => {
    for (const addr of [
      'Joe.Doe@Example.ORG',
      'bob@example.net',
      'x+tag_1@sub.example.com',
      'ÄRGER@example.org',
    ]) {
      const [hash, mbox] = execFileSync(WKS_CLIENT, ['--print-wkd-hash', addr], { encoding: 'utf8' })
        .trim()
        .split(' ');
      const local = mbox!.slice(0, mbox!.lastIndexOf('@'));
      expect(wkdHash(addr.slice(0, addr.lastIndexOf('@')))).toBe(hash);
      expect(wkdHash(local)).toBe(hash);
      const url = execFileSync(WKS_CLIENT, ['--print-wkd-url', addr], { encoding: 'utf8' }).trim();
      // GnuPG prints the `l` parameter unescaped; compare it decoded.
      const [path, query] = wkdUrls(addr)!.advanced.split('?l=');
      expect(path).toBe(url.split('?l=')[0]);
      expect(decodeURIComponent(query!)).toBe(url.split('?l=')[1]);
    }
    expect(wkdUrls('bob@example.net')!.direct).toBe(
      `https://example.net/.well-known/openpgpkey/hu/${wkdHash('bob')}?l=bob`,
    );
    expect(wkdUrls('no-domain')).toBeNull();
  });
});

/** GET with a Host header of our choice (the direct method names the domain by Host). */
function getWithHost(
  url: string,
  host: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!shared)('Web Key Directory server', () => {
  let t: TestServer;
  let d: { id: string; secret: string };
  beforeAll(async () => {
    t = await startTestServer({ args: ['--wkd-domain', 'example.net', '--wkd-domain', 'Other.Example'] });
    expect(
      (await submit(t, readFileSync(corpusMessage('03-smime-enveloped-rsa15-aes256cbc.eml')))).status,
    ).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0);
    d = linkIn((await outbox(t.url))[0]!.text);
  });
  afterAll(async () => {
    await t?.close();
  });

  const publish = (data: string) =>
    fetch(`${t.url}/api/v1/directory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sealpost-secret': d.secret },
      body: JSON.stringify({ deliveryId: d.id, kind: 'openpgp', data }),
    });
  const bobHash = wkdHash('bob');
  const advanced = (q = '?l=bob') => `${t.url}/.well-known/openpgpkey/example.net/hu/${bobHash}${q}`;

  it('serves nothing before a key is published, and nothing for other domains', async () => {
    const r = await fetch(advanced());
    expect(r.status).toBe(404);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect((await fetch(`${t.url}/.well-known/openpgpkey/example.org/policy`)).status).toBe(404);
  });

  it('serves the published key in both URL forms, binary, with CORS and only the address’s user ID', async () => {
    // A key with a second user ID for another address: WKD must not disclose it.
    const { publicKey } = await generateKey({
      userIDs: [{ email: 'bob@example.net' }, { name: 'Bob Private', email: 'bob@home.example' }],
      type: 'ecc',
      format: 'armored',
    });
    expect((await publish(publicKey)).status).toBe(201);
    const fingerprint = (await readKey({ armoredKey: publicKey })).getFingerprint();
    for (const url of [advanced(), advanced(''), advanced('?l=BOB')]) {
      const r = await fetch(url);
      expect(r.status, url).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/octet-stream');
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      expect(r.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      const served = await readKey({ binaryKey: new Uint8Array(await r.arrayBuffer()) });
      expect(served.getFingerprint()).toBe(fingerprint);
      expect(served.getUserIDs()).toEqual(['<bob@example.net>']);
    }
    const direct = await getWithHost(`${t.url}/.well-known/openpgpkey/hu/${bobHash}?l=bob`, 'example.net');
    expect(direct.status).toBe(200);
    expect((await readKey({ binaryKey: new Uint8Array(direct.body) })).getFingerprint()).toBe(fingerprint);
    // The direct form on a host that is not a served domain finds nothing.
    expect(
      (await getWithHost(`${t.url}/.well-known/openpgpkey/hu/${bobHash}?l=bob`, 'example.org')).status,
    ).toBe(404);
    // A wrong hash, or an `l` that does not match the hash, finds nothing for that hash.
    expect(
      (await fetch(`${t.url}/.well-known/openpgpkey/example.net/hu/${wkdHash('alice')}?l=bob`)).status,
    ).toBe(404);
    expect((await fetch(`${t.url}/.well-known/openpgpkey/example.net/hu/not-a-hash`)).status).toBe(404);
  });

  it('serves the policy file for served domains, in both forms', async () => {
    const adv = await fetch(`${t.url}/.well-known/openpgpkey/other.example/policy`);
    expect(adv.status).toBe(200);
    expect(adv.headers.get('access-control-allow-origin')).toBe('*');
    expect(await adv.text()).toMatch(/protocol-version: \d+/);
    expect((await getWithHost(`${t.url}/.well-known/openpgpkey/policy`, 'example.net')).status).toBe(200);
    expect((await getWithHost(`${t.url}/.well-known/openpgpkey/policy`, 'example.org')).status).toBe(404);
  });

  it('replaces a key by a newer one, and withdraws a revoked key', async () => {
    const { publicKey, revocationCertificate } = await generateKey({
      userIDs: [{ email: 'bob@example.net' }],
      type: 'ecc',
      format: 'armored',
    });
    expect((await publish(publicKey)).status).toBe(201);
    const fpr = (await readKey({ armoredKey: publicKey })).getFingerprint();
    const served = await readKey({
      binaryKey: new Uint8Array(await (await fetch(advanced())).arrayBuffer()),
    });
    expect(served.getFingerprint()).toBe(fpr);

    const { publicKey: revoked } = await revokeKey({
      key: await readKey({ armoredKey: publicKey }),
      revocationCertificate,
      format: 'armored',
    });
    const w = await publish(revoked);
    expect(w.status).toBe(200);
    expect(((await w.json()) as { withdrawn: boolean }).withdrawn).toBe(true);
    expect((await fetch(advanced())).status).toBe(404);
    const dir = (await (await fetch(`${t.url}/api/v1/directory/bob@example.net`)).json()) as {
      entries?: unknown[];
    };
    expect(dir.entries ?? []).toHaveLength(0);
    // Publishing a revoked key that is not the published one is refused.
    expect((await publish(revoked)).status).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------
// Real GnuPG against the server. dirmngr looks WKD up at https://openpgpkey.<domain>/ (port 443,
// a certificate its system CA list trusts, the name resolved by DNS or /etc/hosts). Inside the test:
//  - a private mount namespace (unshare -m) where /etc/hosts names openpgpkey.example.net and
//    /etc/ssl/certs/ca-certificates.crt holds only a CA made for this test (dirmngr's WKD fetch
//    trusts exactly the system list): nothing changes for the rest of the machine;
//  - dirmngr's `http-proxy` points at a small CONNECT proxy here that ends TLS with a certificate
//    of that CA for openpgpkey.example.net and passes the HTTP on to the test server.
// ---------------------------------------------------------------------------------------------

function namespaceProblem(): string | null {
  if (spawnSync('gpg', ['--version']).status !== 0) return 'gpg is not installed (npm test installs it)';
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
  if (r.status !== 0)
    return `a private mount namespace (unshare -m) is not available: ${String(r.stderr).trim()}`;
  return null;
}
const nsReady = requireRoot('gpg --locate-keys by WKD (a private mount namespace)', namespaceProblem);

/** A test CA and a server certificate for the names, made with openssl. */
function makeTlsFiles(dir: string, names: string[]): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Sealpost WKD test CA',
  ]);
  run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'tls.key',
    '-out',
    'tls.csr',
    '-subj',
    `/CN=${names[0]}`,
  ]);
  writeFileSync(
    join(dir, 'ext.cnf'),
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  run([
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

/** An HTTP CONNECT proxy that ends TLS itself and forwards the plain HTTP to `target`. */
async function tlsFrontProxy(
  tls: { cert: string; key: string },
  target: number,
): Promise<{ server: Server; port: number; asked: string[] }> {
  const asked: string[] = [];
  const cert = readFileSync(tls.cert);
  const keyPem = readFileSync(tls.key);
  const server = createServer((client: Socket) => {
    let head = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const line = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(line);
      if (!m) return client.end('HTTP/1.0 405 Only CONNECT\r\n\r\n');
      asked.push(m[1]!);
      const rest = head.subarray(end + 4);
      client.write('HTTP/1.0 200 Connection established\r\n\r\n');
      if (rest.length > 0) client.unshift(rest);
      const secure = new TLSSocket(client, { isServer: true, cert, key: keyPem });
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

/** Runs a command without blocking the event loop (the proxy and the server answer meanwhile). */
function run(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
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
    p.stdin.end(input ?? '');
  });
}

describe.skipIf(!shared || !nsReady)('GnuPG finds a published key by WKD', () => {
  let t: TestServer;
  let dir: string;
  let proxy: Awaited<ReturnType<typeof tlsFrontProxy>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sp-wkd-'));
    t = await startTestServer({ args: ['--wkd-domain', 'example.net'] });
    expect(
      (await submit(t, readFileSync(corpusMessage('03-smime-enveloped-rsa15-aes256cbc.eml')))).status,
    ).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0);
    const dl = linkIn((await outbox(t.url))[0]!.text);
    const r = await fetch(`${t.url}/api/v1/directory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sealpost-secret': dl.secret },
      body: JSON.stringify({ deliveryId: dl.id, kind: 'openpgp', data: key('bob.pub.asc') }),
    });
    expect(r.status).toBe(201);
    const tls = makeTlsFiles(dir, ['openpgpkey.example.net', 'example.net']);
    proxy = await tlsFrontProxy(tls, Number(new URL(t.url).port));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 openpgpkey.example.net example.net\n');
  });
  afterAll(async () => {
    if (dir) spawnSync('gpgconf', ['--homedir', join(dir, 'gnupg'), '--kill', 'all']);
    proxy?.server.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gpg --auto-key-locate clear,wkd --locate-keys finds it, and gpg encrypts to it', async () => {
    const home = join(dir, 'gnupg');
    execFileSync('mkdir', ['-m', '700', home]);
    writeFileSync(
      join(home, 'dirmngr.conf'),
      `http-proxy http://127.0.0.1:${proxy.port}\nstandard-resolver\nlog-file ${join(dir, 'dirmngr.log')}\ndebug-level basic\n`,
    );
    // gpg starts dirmngr inside the namespace, so dirmngr sees the test's hosts and CA list.
    const inNamespace = (args: string[], input?: string) =>
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
          join(dir, 'ca.pem'),
          'gpg',
          '--homedir',
          home,
          '--batch',
          ...args,
        ],
        input,
      );
    const found = await inNamespace(['--auto-key-locate', 'clear,wkd', '--locate-keys', 'bob@example.net']);
    const log = (() => {
      try {
        return readFileSync(join(dir, 'dirmngr.log'), 'utf8');
      } catch {
        return '(no dirmngr log)';
      }
    })();
    expect(found.status, `${found.stderr}\n${log}`).toBe(0);
    expect(found.stdout).toContain('F0D5F5C97EE0CC35199B040B82386B2A20DAF17D');
    expect(proxy.asked).toContain('openpgpkey.example.net:443');

    const enc = await inNamespace(
      ['--trust-model', 'always', '--armor', '--encrypt', '-r', 'bob@example.net'],
      'found by WKD\n',
    );
    expect(enc.status, enc.stderr).toBe(0);
    const bob = await decryptKey({
      privateKey: await readPrivateKey({ armoredKey: key('bob.sec.asc') }),
      passphrase: 'bob-pass',
    });
    const out = await decrypt({
      message: await readMessage({ armoredMessage: enc.stdout }),
      decryptionKeys: bob,
    });
    expect(out.data).toBe('found by WKD\n');
  });
});
