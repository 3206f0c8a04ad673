/**
 * Security review regression: a link secret sent in a raw request line (`/m/<id>#<secret>`, which
 * browsers never do but careless clients such as link scanners may) never reaches a log line.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.ts';

/** Sends a raw HTTP/1.1 request (so the request line is exactly as written); resolves with the answer. */
function rawRequest(url: string, requestLine: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () =>
      socket.end(`${requestLine}\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`),
    );
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('a secret in a raw request line', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('logs the path without the fragment', async () => {
    const secret = 'Fr4gmentSecretThatMustNeverBeLogged_0123456';
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    const page = await rawRequest(t.url, `GET /m/${id}#${secret} HTTP/1.1`);
    expect(page.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    await rawRequest(t.url, `GET /api/v1/pickup/${id}#${secret} HTTP/1.1`);
    await rawRequest(t.url, `GET /m/${id}?x=1#${secret} HTTP/1.1`);
    const lines = t.logs.filter((l) => l.includes(`"path":"/m/${id}"`));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of t.logs) expect(line.includes(secret), line.slice(0, 300)).toBe(false);
  });
});
