/**
 * The relay's two paths, driven by real SMTP clients (nodemailer and swaks) with real messages:
 * encrypted mail (S/MIME, PGP/MIME, inline PGP) is diverted into web delivery — deliveries and
 * notifications exactly as the API makes them, and the message never reaches the upstream — while
 * signed-only and plain mail reaches the upstream byte for byte with its envelope.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyMessage } from '../../../src/core/index.ts';
import { CORPUS, FIXTURES, requireFixtures, requireShared } from '../../helpers/paths.ts';
import { linkIn, waitUntil } from '../helpers.ts';
import {
  createUpstream,
  crlf,
  idIn,
  requireSwaks,
  sendWithNodemailer,
  startRelay,
  swaks,
  swaksBytes,
  type RelayServer,
  type Upstream,
} from './helpers.ts';

const shared = requireShared('SMTP relay flow tests with the shared corpus');
const fixtures = requireFixtures('SMTP relay tests with the generated fixtures');
const withSwaks = requireSwaks();
const corpus = (name: string): Buffer => crlf(readFileSync(join(CORPUS, 'messages', name)));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A distinctive run of the message's body, to prove it never reached the upstream. */
function fingerprint(raw: Buffer): string {
  const text = raw.toString('latin1');
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const line = body.split('\r\n').find((l) => /^[A-Za-z0-9+/=]{60,}$/.test(l));
  if (!line) throw new Error('no base64 line in the message');
  return line;
}

describe.skipIf(!shared)('SMTP relay: divert secure mail, forward the rest', () => {
  let up: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port);
  });
  afterAll(async () => {
    await t.close();
    await up.stop();
  });
  const auth = () => ({ user: t.senderEmail, pass: t.apiKey });

  async function expectDiverted(response: string, raw: Buffer, recipients: string[]) {
    const { kind, id } = idIn(response);
    expect(kind).toBe('diverted');
    const m = await t.server.store.submissions.get(id);
    expect(m).not.toBeNull();
    expect(m!.sha256).toBe(sha(raw));
    expect(m!.senderEmail).toBe(t.senderEmail);
    const deliveries = await t.server.store.deliveries.listByMessage(id);
    expect(deliveries.map((d) => d.recipient).sort()).toEqual([...recipients].sort());
    // Notifications go out through the upstream, one per recipient, each with its link.
    await waitUntil(
      async () => (await t.server.store.deliveries.listByMessage(id)).every((d) => d.state === 'notified'),
      15_000,
      'notified deliveries',
    );
    for (const d of deliveries) {
      const note = up.mails.find((x) => x.to.includes(d.recipient) && x.raw.includes(`/m/${d.id}#`));
      expect(note, `notification for ${d.recipient}`).toBeDefined();
      expect(linkIn(note!.raw.toString('latin1').replace(/=\r\n/g, '')).id).toBe(d.id);
      const events = await t.server.store.deliveries.listEvents(d.id);
      expect(events.map((e) => e.type)).toEqual(['created', 'notified']);
    }
    // The message itself never reached the upstream.
    const mark = fingerprint(raw);
    expect(up.mails.some((x) => x.raw.toString('latin1').includes(mark))).toBe(false);
    return id;
  }

  it('diverts S/MIME encrypted mail sent with nodemailer (AUTH PLAIN) for every RCPT TO', async () => {
    const raw = corpus('03-smime-enveloped-rsa15-aes256cbc.eml');
    // RCPT TO decides, not the To header (bob@example.net): Bcc recipients are served too.
    const to = ['bob@example.net', 'hidden@example.com'];
    const r = await sendWithNodemailer({ port: t.smtpPort, from: t.senderEmail, to, raw, auth: auth() });
    expect(r.response).toMatch(/^250 2\.6\.0 Diverted to web delivery as \S+ \(2 recipients\)/);
    await expectDiverted(r.response, raw, to);
  });

  it('diverts the other S/MIME encryptions too (OAEP, ECDH, AuthEnveloped, password, sign-then-encrypt)', async () => {
    for (const name of [
      '04-smime-enveloped-rsa-oaep.eml',
      '05-smime-enveloped-ecdh-p256.eml',
      '06-smime-authenveloped-aes256gcm.eml',
      '08-smime-sign-then-encrypt.eml',
      '09-smime-password-pwri.eml',
    ]) {
      const raw = corpus(name);
      const r = await sendWithNodemailer({
        port: t.smtpPort,
        from: t.senderEmail,
        to: ['bob@example.net'],
        raw,
        auth: auth(),
      });
      expect(r.ok, `${name}: ${r.response}`).toBe(true);
      await expectDiverted(r.response, raw, ['bob@example.net']);
    }
  });

  it.skipIf(!withSwaks)('diverts PGP/MIME encrypted mail sent with swaks (AUTH PLAIN)', async () => {
    const raw = swaksBytes(join(CORPUS, 'messages', '16-pgpmime-encrypted-combined-signature.eml'));
    const s = await swaks([
      '--port',
      String(t.smtpPort),
      '--from',
      t.senderEmail,
      '--to',
      'bob@example.net,carol@example.net',
      '--auth',
      'PLAIN',
      '--auth-user',
      t.senderEmail,
      '--auth-password',
      t.apiKey,
      '--data',
      join(CORPUS, 'messages', '16-pgpmime-encrypted-combined-signature.eml'),
    ]);
    expect(s.code, s.out).toBe(0);
    const line = /<- {2}(250 2\.6\.0 Diverted[^\r\n]*)/.exec(s.out);
    expect(line, s.out).not.toBeNull();
    await expectDiverted(line![1]!, raw, ['bob@example.net', 'carol@example.net']);
    // The API key never shows in clear past AUTH (swaks prints the base64 exchange only).
  });

  it.skipIf(!withSwaks)('diverts inline PGP mail sent with swaks (AUTH LOGIN)', async () => {
    const raw = swaksBytes(join(CORPUS, 'messages', '15-pgp-inline-signed-encrypted.eml'));
    const s = await swaks([
      '--port',
      String(t.smtpPort),
      '--from',
      t.senderEmail,
      '--to',
      'bob@example.net',
      '--auth',
      'LOGIN',
      '--auth-user',
      t.senderEmail,
      '--auth-password',
      t.apiKey,
      '--data',
      join(CORPUS, 'messages', '15-pgp-inline-signed-encrypted.eml'),
    ]);
    expect(s.code, s.out).toBe(0);
    const line = /<- {2}(250 2\.6\.0 Diverted[^\r\n]*)/.exec(s.out);
    expect(line, s.out).not.toBeNull();
    await expectDiverted(line![1]!, raw, ['bob@example.net']);
  });

  it('forwards plain mail to the upstream byte for byte, with its envelope', async () => {
    const raw = corpus('23-plain-text.eml');
    const before = up.mails.length;
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net', 'dave@example.com'],
      raw,
      auth: auth(),
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Queued as \S+ for forwarding/);
    const { id } = idIn(r.response);
    await waitUntil(
      () => up.mails.length > before && up.mails.some((m) => m.original.equals(raw)),
      10_000,
      'upstream',
    );
    const got = up.mails.find((m) => m.original.equals(raw));
    expect(got!.from).toBe(t.senderEmail);
    expect(got!.to.sort()).toEqual(['bob@example.net', 'dave@example.com']);
    // A trace field on top (RFC 5321 §4.4): client, this relay, TLS and authentication, the queue id,
    // the time; no recipient list (it would disclose Bcc). The message follows it unchanged.
    expect(got!.raw.subarray(0, 9).toString()).toBe('Received:');
    expect(got!.trace).toMatch(
      new RegExp(
        `^Received: from \\S+ \\((?:\\S+ )?\\[127\\.0\\.0\\.1\\]\\)\r\n\tby \\S+ \\(Sealpost relay\\) with ESMTPS?A id ${id};\r\n\t\\w{3}, \\d\\d \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000\r\n$`,
      ),
    );
    expect(Buffer.concat([Buffer.from(got!.trace!, 'latin1'), raw]).equals(got!.raw)).toBe(true);
    await waitUntil(async () => (await t.server.store.forwards.get(id))?.state === 'sent', 10_000, 'sent');
    // Nothing was made a web delivery.
    expect(await t.server.store.submissions.get(id)).toBeNull();
  });

  it('forwards 8-bit and long-line plain mail unchanged (8BITMIME)', async () => {
    const raw = Buffer.concat([
      Buffer.from(
        `From: ${t.senderEmail}\r\nTo: bob@example.net\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n` +
          'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      ),
      Buffer.from('Grüße, naïve café — ✓\r\n.leading dot\r\n..two dots\r\n', 'utf8'),
      Buffer.from(`${'x'.repeat(990)}\r\n`),
    ]);
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net'],
      raw,
      auth: auth(),
    });
    expect(r.ok, r.response).toBe(true);
    await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 10_000, 'the 8-bit message upstream');
  });

  it('forwards signed-only mail (S/MIME and PGP/MIME) unchanged by default', async () => {
    for (const name of [
      '01-smime-signed-detached.eml',
      '02-smime-signed-opaque.eml',
      '18-pgpmime-signed.eml',
    ]) {
      const raw = corpus(name);
      const r = await sendWithNodemailer({
        port: t.smtpPort,
        from: t.senderEmail,
        to: ['bob@example.net'],
        raw,
        auth: auth(),
      });
      expect(idIn(r.response).kind, name).toBe('queued');
      await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 10_000, `${name} upstream`);
    }
  });

  it.skipIf(!withSwaks)('forwards plain mail sent with swaks byte for byte', async () => {
    const raw = swaksBytes(join(CORPUS, 'messages', '23-plain-text.eml'));
    const before = up.mails.filter((m) => m.original.equals(raw)).length;
    const s = await swaks([
      '--port',
      String(t.smtpPort),
      '--from',
      t.senderEmail,
      '--to',
      'erin@example.net',
      '-a',
      'LOGIN',
      '--auth-user',
      t.senderEmail,
      '--auth-password',
      t.apiKey,
      '--data',
      join(CORPUS, 'messages', '23-plain-text.eml'),
    ]);
    expect(s.code, s.out).toBe(0);
    await waitUntil(
      () => up.mails.filter((m) => m.original.equals(raw)).length > before,
      10_000,
      'the swaks message upstream',
    );
  });
});

describe.skipIf(!shared)('SMTP relay with --divert-signed', () => {
  let up: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port, ['--divert-signed']);
  });
  afterAll(async () => {
    await t.close();
    await up.stop();
  });

  it('diverts signed-only mail, and still forwards plain mail', async () => {
    for (const name of ['01-smime-signed-detached.eml', '18-pgpmime-signed.eml']) {
      const raw = corpus(name);
      const r = await sendWithNodemailer({
        port: t.smtpPort,
        from: t.senderEmail,
        to: ['bob@example.net'],
        raw,
        auth: { user: t.senderEmail, pass: t.apiKey },
      });
      const { kind, id } = idIn(r.response);
      expect(kind, name).toBe('diverted');
      const m = await t.server.store.submissions.get(id);
      expect(m).toMatchObject({ signed: true, encrypted: false, sha256: sha(raw) });
    }
    const plain = corpus('23-plain-text.eml');
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net'],
      raw: plain,
      auth: { user: t.senderEmail, pass: t.apiKey },
    });
    expect(idIn(r.response).kind).toBe('queued');
    await waitUntil(() => up.mails.some((m) => m.original.equals(plain)), 10_000, 'plain upstream');
  });
});

describe.skipIf(!fixtures)('SMTP relay with every generated fixture message', () => {
  let up: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port);
  });
  afterAll(async () => {
    await t.close();
    await up.stop();
  });

  it('diverts exactly the encrypted ones and forwards the others unchanged', async () => {
    const dir = join(FIXTURES, 'messages');
    const names = readdirSync(dir).filter((n) => n.endsWith('.eml'));
    expect(names.length).toBeGreaterThan(0);
    let diverted = 0;
    let forwarded = 0;
    for (const name of names) {
      const raw = crlf(readFileSync(join(dir, name)));
      const expected = classifyMessage(new Uint8Array(raw)).encrypted ? 'diverted' : 'queued';
      const r = await sendWithNodemailer({
        port: t.smtpPort,
        from: t.senderEmail,
        to: ['bob@example.net'],
        raw,
        auth: { user: t.senderEmail, pass: t.apiKey },
      });
      expect(r.ok, `${name}: ${r.response}`).toBe(true);
      const { kind, id } = idIn(r.response);
      expect(kind, name).toBe(expected);
      if (kind === 'diverted') {
        diverted++;
        expect((await t.server.store.submissions.get(id))!.sha256, name).toBe(sha(raw));
      } else {
        forwarded++;
        await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 10_000, `${name} upstream`);
      }
    }
    expect(diverted).toBeGreaterThan(0);
    expect(forwarded).toBeGreaterThan(0);
    // Only notifications and forwarded messages reached the upstream: no diverted body.
    for (const m of up.mails) expect(m.from === 'sealpost@localhost' || m.from === t.senderEmail).toBe(true);
  });
});
