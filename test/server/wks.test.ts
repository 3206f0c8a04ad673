/**
 * Web Key Service: a GnuPG user publishes their key the way GnuPG does it — `gpg-wks-client
 * --create` mails the key (encrypted to the domain's submission key, found by WKD) through a real
 * SMTP socket to the relay; the relay answers with a confirmation request through its outbound
 * queue (to the upstream mail server); `gpg-wks-client --receive` answers it; the key is then in
 * the directory and in WKD. And the refusals: other recipients without AUTH, replayed or unknown
 * nonces, mail that is no WKS message.
 */
import { readKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wkdHash } from '../../src/core/index.ts';
import { requireRoot } from '../helpers/paths.ts';
import { gnupgAgainstWkd, gnupgWkdProblem, WKS_CLIENT, type GnupgWkd } from './gnupg-wkd.ts';
import {
  createUpstream,
  sendWithNodemailer,
  startRelay,
  type RelayServer,
  type Upstream,
} from './relay/helpers.ts';

const gnupgReady = requireRoot(
  'gpg-wks-client through the relay (a private mount namespace)',
  gnupgWkdProblem,
);

describe('Web Key Service at the relay', () => {
  let upstream: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    upstream = await createUpstream();
    await upstream.start();
    t = await startRelay(upstream.port, ['--wkd-domain', 'example.net']);
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.stop();
  });

  const send = (from: string, to: string[], raw: string) =>
    sendWithNodemailer({ port: t.smtpPort, from, to, raw: Buffer.from(raw) });

  it('publishes the submission address, its key by WKD and the policy', async () => {
    const sa = await fetch(`${t.url}/.well-known/openpgpkey/example.net/submission-address`);
    expect(sa.status).toBe(200);
    expect(await sa.text()).toBe('key-submission@example.net\n');
    const policy = await (await fetch(`${t.url}/.well-known/openpgpkey/example.net/policy`)).text();
    expect(policy).toContain('submission-address: key-submission@example.net');
    const k = await fetch(`${t.url}/.well-known/openpgpkey/example.net/hu/${wkdHash('key-submission')}`);
    expect(k.status).toBe(200);
    const key = await readKey({ binaryKey: new Uint8Array(await k.arrayBuffer()) });
    expect(key.getUserIDs()).toEqual(['<key-submission@example.net>']);
    // Stable: the same key on the next request.
    const again = await fetch(`${t.url}/.well-known/openpgpkey/example.net/hu/${wkdHash('key-submission')}`);
    expect((await readKey({ binaryKey: new Uint8Array(await again.arrayBuffer()) })).getFingerprint()).toBe(
      key.getFingerprint(),
    );
  });

  it('takes mail to the submission address without AUTH, and nothing else', async () => {
    const plain = 'From: x@example.org\r\nTo: key-submission@example.net\r\nSubject: hi\r\n\r\nhello\r\n';
    const notWks = await send('x@example.org', ['key-submission@example.net'], plain);
    expect(notWks.code).toBe(554);
    expect(notWks.response).toMatch(/Web Key Service mail only/);
    const relay = await send('x@example.org', ['someone@example.com'], plain);
    expect(relay.code).toBe(550);
    const mixed = await send('x@example.org', ['key-submission@example.net', 'someone@example.com'], plain);
    expect(mixed.ok).toBe(false);
    const other = await send('x@example.org', ['key-submission@example.org'], plain);
    expect(other.code).toBe(550);
    const response =
      'From: x@example.net\r\nTo: key-submission@example.net\r\nContent-Type: application/vnd.gnupg.wks\r\n\r\n' +
      'type: confirmation-response\nsender: key-submission@example.net\naddress: x@example.net\nnonce: 0123456789abcdefghijkl\n';
    const unknown = await send('x@example.net', ['key-submission@example.net'], response);
    expect(unknown.code).toBe(554);
    expect(unknown.response).toMatch(/No publication request waits/);
  });
});

describe.skipIf(!gnupgReady)('gpg-wks-client publishes a key through the relay', () => {
  let upstream: Upstream;
  let t: RelayServer;
  let g: GnupgWkd;
  beforeAll(async () => {
    upstream = await createUpstream();
    await upstream.start();
    t = await startRelay(upstream.port, ['--wkd-domain', 'example.net']);
    g = await gnupgAgainstWkd('example.net', Number(new URL(t.url).port));
  });
  afterAll(async () => {
    await g?.close();
    await t?.close();
    await upstream?.stop();
  });

  it('--create, confirmation request by mail, --receive, published in WKD', async () => {
    const gen = await g.run('gpg', [
      '--batch',
      '--passphrase',
      '',
      '--quick-gen-key',
      'Carol <carol@example.net>',
      'future-default',
      'default',
      'never',
    ]);
    expect(gen.status, gen.stderr).toBe(0);
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(
      (await g.run('gpg', ['--batch', '--with-colons', '--list-keys', 'carol@example.net'])).stdout,
    )![1]!;

    // 1. The submission, encrypted to the submission key that gpg found by WKD.
    const create = await g.run(WKS_CLIENT, ['--create', fpr, 'carol@example.net']);
    expect(create.status, `${create.stderr}\n${g.log()}`).toBe(0);
    expect(create.stdout).toContain('multipart/encrypted');
    const submitted = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'carol@example.net',
      to: ['key-submission@example.net'],
      raw: Buffer.from(create.stdout),
    });
    expect(submitted.code, submitted.response).toBe(250);
    expect(submitted.response).toMatch(/confirmation request was mailed to carol@example.net/);
    // Not yet published.
    const url = `${t.url}/.well-known/openpgpkey/example.net/hu/${wkdHash('carol')}?l=carol`;
    expect((await fetch(url)).status).toBe(404);

    // 2. The confirmation request leaves through the relay's outbound queue.
    const [request] = await upstream.waitFor(1);
    expect(request!.to).toEqual(['carol@example.net']);
    expect(request!.from).toBe('key-submission@example.net');

    // 3. gpg-wks-client reads it (decrypting with Carol's key) and writes the response.
    const received = await g.run(WKS_CLIENT, ['--receive'], request!.raw.toString('utf8'));
    expect(received.status, `${received.stderr}\n${g.log()}`).toBe(0);
    expect(received.stdout).toContain('To: key-submission@example.net');
    const confirmed = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'carol@example.net',
      to: ['key-submission@example.net'],
      raw: Buffer.from(received.stdout),
    });
    expect(confirmed.code, confirmed.response).toBe(250);
    expect(confirmed.response).toMatch(/Key published for carol@example.net/);

    // 4. Published: WKD and the directory have it; gpg finds it by WKD.
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect((await readKey({ binaryKey: new Uint8Array(await r.arrayBuffer()) })).getFingerprint()).toBe(
      fpr.toLowerCase(),
    );
    const dir = (await (await fetch(`${t.url}/api/v1/directory/carol@example.net`)).json()) as {
      entries: { kind: string; fingerprint: string }[];
    };
    expect(dir.entries.map((e) => [e.kind, e.fingerprint])).toEqual([['openpgp', fpr.toLowerCase()]]);

    // The same confirmation again is refused (the nonce is used up).
    const replay = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'carol@example.net',
      to: ['key-submission@example.net'],
      raw: Buffer.from(received.stdout),
    });
    expect(replay.code).toBe(554);
  });
});
