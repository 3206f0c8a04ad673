/**
 * Web Key Directory: the URL forms (against GnuPG's own hashing), the served answers (binary key
 * reduced to the address's user ID, CORS, policy file, only --wkd-domain domains, revoked and
 * replaced keys gone), and real GnuPG finding a published key by WKD and encrypting to it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { decrypt, decryptKey, generateKey, readKey, readMessage, readPrivateKey, revokeKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wkdHash, wkdUrls } from '../../src/core/index.ts';
import { ConfigError, loadConfig } from '../../src/server/config.ts';
import { CORPUS, requireRoot, requireShared } from '../helpers/paths.ts';
import { gnupgAgainstWkd, gnupgWkdProblem, WKS_CLIENT, type GnupgWkd } from './gnupg-wkd.ts';
import {
  corpusMessage,
  linkIn,
  outbox,
  startTestServer,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

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

const gnupgReady = requireRoot('gpg --locate-keys by WKD (a private mount namespace)', gnupgWkdProblem);

describe.skipIf(!shared || !gnupgReady)('GnuPG finds a published key by WKD', () => {
  let t: TestServer;
  let g: GnupgWkd;
  beforeAll(async () => {
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
    g = await gnupgAgainstWkd('example.net', Number(new URL(t.url).port));
  });
  afterAll(async () => {
    await g?.close();
    await t?.close();
  });

  it('gpg --auto-key-locate clear,wkd --locate-keys finds it, and gpg encrypts to it', async () => {
    const found = await g.run('gpg', [
      '--batch',
      '--auto-key-locate',
      'clear,wkd',
      '--locate-keys',
      'bob@example.net',
    ]);
    expect(found.status, `${found.stderr}\n${g.log()}`).toBe(0);
    expect(found.stdout).toContain('F0D5F5C97EE0CC35199B040B82386B2A20DAF17D');
    expect(g.asked).toContain('openpgpkey.example.net:443');

    const enc = await g.run(
      'gpg',
      ['--batch', '--trust-model', 'always', '--armor', '--encrypt', '-r', 'bob@example.net'],
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
