import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  SealpostError,
  openMessage,
  safeFilename,
  type Layer,
  type OpenedMessage,
  type SignatureReport,
} from '../core/index.ts';
import { CliError, keyringFromArgs, readFileBytes } from './keyargs.ts';
import { useNodeAcceleration } from './native.ts';
import type { Command } from './main.ts';

const USAGE =
  'sealpost open FILE [--key PATH]... [--passphrase P] [--password P] [--trust PATH]... [--json] [--save-attachments DIR]';

export const openCommand: Command = {
  name: 'open',
  summary: 'Decrypt and verify a secure message, print the report',
  usage: `${USAGE}

  FILE                   a complete message (.eml), as received
  --key PATH             a PKCS#12 (.p12/.pfx), a PKCS#8 private key (PEM/DER, with its certificate in
                         the same PEM or another --key) or an armored OpenPGP secret key (repeatable)
  --passphrase P         unlocks the keys given with --key
  --password P           the message password (S/MIME PWRI or OpenPGP symmetric encryption), or the
                         pre-shared key of an S/MIME KEK recipient (hexadecimal or base64)
  --trust PATH           a CA certificate (PEM/DER) or an OpenPGP public key to trust (repeatable)
  --json                 print exactly one JSON object (the report, or {"error": {...}})
  --save-attachments DIR write the attachments into DIR

Exit status: 0 when the message was processed (even with an invalid signature), 1 when it could not
be, 64 for a usage error.`,
  async run(argv) {
    let json = argv.includes('--json');
    try {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          key: { type: 'string', multiple: true, default: [] },
          trust: { type: 'string', multiple: true, default: [] },
          passphrase: { type: 'string' },
          password: { type: 'string' },
          json: { type: 'boolean', default: false },
          'save-attachments': { type: 'string' },
        },
      });
      json = values.json;
      if (positionals.length !== 1) throw new CliError(`Give exactly one message file.\nUsage: ${USAGE}`);
      const message = await readFileBytes(positionals[0]!, 'message');
      const keyring = await keyringFromArgs(values.key, values.trust, values.passphrase);
      useNodeAcceleration();
      const report = await openMessage(message, {
        keyring,
        ...(values.password !== undefined ? { password: values.password } : {}),
      });
      const saved: string[] = [];
      if (values['save-attachments'])
        saved.push(...(await saveAttachments(report, values['save-attachments'])));
      process.stdout.write(json ? `${JSON.stringify(toJson(report))}\n` : describe(report, saved));
      return 0;
    } catch (e) {
      if (e instanceof SealpostError) {
        if (json)
          process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
        else process.stderr.write(`sealpost open: ${e.message} [${e.code}]\n`);
        return 1;
      }
      const usage = e instanceof CliError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
      const message = e instanceof Error ? e.message : String(e);
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ error: { code: usage ? 'usage' : 'internal', message } })}\n`,
        );
      } else process.stderr.write(`sealpost open: ${message}\n`);
      return usage ? 64 : 1;
    }
  },
};

/** The JSON contract of `sealpost open --json` (issue 3): attachments without their bytes. */
export function toJson(r: OpenedMessage): Record<string, unknown> {
  return {
    protocol: r.protocol,
    encrypted: r.encrypted,
    layers: r.layers,
    signature: r.signature,
    from: r.from,
    to: r.to,
    cc: r.cc,
    subject: r.subject,
    date: r.date,
    messageId: r.messageId,
    text: r.text,
    html: r.html,
    attachments: r.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      sha256: a.sha256,
      disposition: a.disposition,
      contentId: a.contentId,
    })),
  };
}

async function saveAttachments(r: OpenedMessage, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const used = new Set<string>();
  const paths: string[] = [];
  for (const [i, a] of r.attachments.entries()) {
    const base = safeFilename(a.filename, a.contentType, i + 1);
    const dot = base.lastIndexOf('.');
    let name = base;
    for (let n = 2; used.has(name.toLowerCase()); n++) {
      name = dot > 0 ? `${base.slice(0, dot)} (${n})${base.slice(dot)}` : `${base} (${n})`;
    }
    used.add(name.toLowerCase());
    const path = join(dir, name);
    try {
      await writeFile(path, a.content, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw new CliError(`Not overwriting the existing file ${path}.`);
      throw e;
    }
    paths.push(path);
  }
  return paths;
}

const PROTOCOL_NAMES = {
  smime: 'S/MIME',
  'pgp-mime': 'PGP/MIME',
  'openpgp-inline': 'inline OpenPGP',
  plain: 'plain (not secure)',
};

function describeSignature(s: SignatureReport): string {
  const who = s.signer ?? 'an unknown signer';
  const text = {
    valid: `VERIFIED — signed by ${who}`,
    'signer-mismatch': `SIGNER IS NOT THE SENDER — a good signature by ${who}, who is not the From address`,
    untrusted: `NOT TRUSTED — a good signature by ${who}, but the signer does not chain to a trusted authority`,
    'unknown-signer': `UNKNOWN SIGNER — signed, but the signer's key is not available to check it`,
    invalid: 'INVALID — the message or its signature was altered; the content is not shown',
    none: 'not signed',
  }[s.status];
  const lines = [text];
  if (s.fromMatches === false) lines.push(`WARNING: the From address is not the signer's address (${who})`);
  if (s.signedAt) lines.push(`signed at ${s.signedAt}`);
  if (s.certificate) {
    lines.push(`certificate: ${s.certificate.subject}`);
    lines.push(
      `  issued by ${s.certificate.issuer}, valid ${s.certificate.notBefore} to ${s.certificate.notAfter}`,
    );
    lines.push(`  SHA-256 ${s.certificate.sha256Fingerprint}`);
  }
  if (s.openpgpKey)
    lines.push(`OpenPGP key ${s.openpgpKey.fingerprint} (${s.openpgpKey.userIds.join(', ')})`);
  for (const p of s.problems) lines.push(`problem: ${p}`);
  return lines.join('\n            ');
}

function describeLayer(l: Layer, i: number): string {
  if (l.kind === 'encrypted') {
    const by = l.openedBy ? ` — opened with ${l.openedBy.description}` : '';
    return `  ${i + 1}. encrypted (${l.format}, ${l.contentAlgorithm}${l.integrityProtected ? ', integrity-protected' : ''})${by}`;
  }
  return `  ${i + 1}. signed (${l.format}): ${l.signatures.map((s) => `${s.status}${s.signer ? ` by ${s.signer}` : ''}`).join('; ')}`;
}

function describe(r: OpenedMessage, saved: string[]): string {
  const out = [
    `Protocol:   ${PROTOCOL_NAMES[r.protocol]}${r.encrypted ? ', encrypted' : ''}`,
    `From:       ${r.from}`,
    `To:         ${r.to.join(', ')}`,
    ...(r.cc.length ? [`Cc:         ${r.cc.join(', ')}`] : []),
    `Subject:    ${r.subject}`,
    `Date:       ${r.date ?? '(none)'}`,
    `Signature:  ${describeSignature(r.signature)}`,
  ];
  if (r.layers.length) out.push('Layers:', ...r.layers.map(describeLayer));
  if (r.attachments.length) {
    out.push('Attachments:');
    for (const a of r.attachments)
      out.push(`  ${a.filename}  ${a.contentType}  ${a.size} bytes  sha256 ${a.sha256}`);
  }
  if (saved.length) out.push('Saved:', ...saved.map((p) => `  ${p}`));
  out.push('', r.text.trimEnd(), '');
  if (r.html !== null)
    out.push('(The message also has an HTML version; open it with the receiver to see it.)', '');
  return out.join('\n');
}
