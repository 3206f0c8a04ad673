/**
 * Trial mode (no upstream mail server): the built-in outbox keeps whole notification mails, whose
 * text carries the link secret. The database holds them sealed (the key is in the data folder, not
 * the database), as docs/security.md says: no link secret in clear in the database file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn, outbox, startTestServer, submit, waitUntil, type TestServer } from './helpers.ts';

const secure = Buffer.from(
  'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: sealed outbox\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
    'Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n',
);

describe('the built-in outbox at rest', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps notification bodies sealed in the database and shows them on the loopback outbox', async () => {
    expect((await submit(t, secure)).status).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0, 10_000, 'the notification');
    const [mail] = await outbox(t.url);
    const { secret, id } = linkIn(mail!.text);
    expect(mail!.html).toContain(secret); // the outbox page and API open it

    const db = new Database(join(t.dir, 'sealpost.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT to_addr, subject, text, html FROM local_mailbox').all() as {
        to_addr: string;
        subject: string;
        text: string;
        html: string;
      }[];
      expect(rows).toHaveLength(1);
      expect(rows[0]!.to_addr).toBe('bob@example.net');
      expect(rows[0]!.text.startsWith('sealed:v1:')).toBe(true);
      expect(rows[0]!.html.startsWith('sealed:v1:')).toBe(true);
      for (const col of [rows[0]!.text, rows[0]!.html]) expect(col).not.toContain(secret);
    } finally {
      db.close();
    }
    // Nowhere in the database files (WAL included) is the secret in clear; the link's id may be.
    for (const f of ['sealpost.db', 'sealpost.db-wal']) {
      const bytes = await readFile(join(t.dir, f)).catch(() => Buffer.alloc(0));
      expect(bytes.includes(secret), f).toBe(false);
    }
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
