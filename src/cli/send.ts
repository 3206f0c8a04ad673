import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Command } from './main.ts';

const USAGE =
  'sealpost send FILE [--to ADDR]... [--server URL] [--api-key KEY] [--expires 7d] [--receipt] [--json]';

interface Submitted {
  id: string;
  size: number;
  protocol: string;
  encrypted: boolean;
  signed: boolean;
  expiresAt: string;
  deliveries: { id: string; recipient: string }[];
}

export const sendCommand: Command = {
  name: 'send',
  summary: 'Submit a secure message to a Sealpost server',
  usage: `${USAGE}

  FILE             the message (.eml with S/MIME, PGP/MIME or inline OpenPGP)
  --to ADDR        a recipient (repeatable); default: the message's To and Cc
  --server URL     the Sealpost server (SEALPOST_SERVER, default http://127.0.0.1:8080)
  --api-key KEY    the sender's API key (SEALPOST_API_KEY)
  --expires D      link lifetime, e.g. 7d or 12h (default: the server's, 28 days)
  --receipt        ask for a receipt mail when the message is processed
  --json           print the server's answer as JSON`,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          to: { type: 'string', multiple: true },
          server: { type: 'string' },
          'api-key': { type: 'string' },
          expires: { type: 'string' },
          receipt: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
        },
      });
    } catch (e) {
      process.stderr.write(`sealpost send: ${(e as Error).message}\nUsage: ${USAGE}\n`);
      return 64;
    }
    const file = parsed.positionals[0];
    if (!file || parsed.positionals.length > 1) {
      process.stderr.write(`Usage: ${USAGE}\n`);
      return 64;
    }
    const server = (parsed.values.server ?? process.env.SEALPOST_SERVER ?? 'http://127.0.0.1:8080').replace(
      /\/+$/,
      '',
    );
    const apiKey = parsed.values['api-key'] ?? process.env.SEALPOST_API_KEY;
    if (!apiKey) {
      process.stderr.write('sealpost send: give the sender API key with --api-key or SEALPOST_API_KEY\n');
      return 64;
    }
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error('not a file');
      size = s.size;
    } catch {
      process.stderr.write(`sealpost send: cannot read ${file}\n`);
      return 66; // EX_NOINPUT
    }
    const params = new URLSearchParams();
    for (const to of parsed.values.to ?? []) params.append('to', to);
    if (parsed.values.expires) params.set('expires', parsed.values.expires);
    if (parsed.values.receipt) params.set('receipt', 'true');
    const query = params.size > 0 ? `?${params.toString()}` : '';
    let res: Response;
    try {
      res = await fetch(`${server}/api/v1/messages${query}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'message/rfc822',
          'content-length': String(size),
        },
        body: Readable.toWeb(
          createReadStream(file, { highWaterMark: 1024 * 1024 }),
        ) as ReadableStream<Uint8Array>,
        duplex: 'half',
      } as RequestInit);
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      process.stderr.write(`sealpost send: cannot reach ${server} (${cause})\n`);
      return 69; // EX_UNAVAILABLE
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (res.status !== 201) {
      const err = (body as { error?: { code: string; message: string } } | null)?.error;
      process.stderr.write(
        `sealpost send: refused (HTTP ${res.status}${err ? `, ${err.code}` : ''}): ${err?.message ?? text.slice(0, 200)}\n`,
      );
      return res.status >= 500 ? 69 : 1;
    }
    const r = body as Submitted;
    if (parsed.values.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    const kind = `${r.protocol}${r.encrypted ? ', encrypted' : r.signed ? ', signed' : ''}`;
    process.stdout.write(
      `Stored message ${r.id} (${r.size} bytes, ${kind}); links expire ${r.expiresAt}.\n` +
        r.deliveries.map((d) => `  ${d.recipient}  (delivery ${d.id})\n`).join(''),
    );
    return 0;
  },
};
