/**
 * One measured run of openMessage (spawned by bench/open.ts so its peak RSS is its own).
 * Prints one JSON line: {ms, maxRssMb, protocol, encrypted, signature, attachments}.
 */
import { readFile } from 'node:fs/promises';
import { MemoryKeyring, importKeyFile, openMessage } from '../src/core/index.ts';
import { useNodeAcceleration } from '../src/cli/native.ts';

// As `sealpost open` does: Node's native base64 for large bodies.
useNodeAcceleration();

const [file, ...rest] = process.argv.slice(2);
const keys: string[] = [];
const trust: string[] = [];
let passphrase: string | undefined;
for (let i = 0; i < rest.length; i += 2) {
  const [flag, value] = [rest[i], rest[i + 1]!];
  if (flag === '--key') keys.push(value);
  else if (flag === '--trust') trust.push(value);
  else if (flag === '--passphrase') passphrase = value;
}
const keyring = new MemoryKeyring();
for (const k of keys)
  keyring.addAll(await importKeyFile(new Uint8Array(await readFile(k)), passphrase ? { passphrase } : {}));
for (const t of trust)
  keyring.addAll(await importKeyFile(new Uint8Array(await readFile(t)), { trusted: true }));
const start = performance.now();
const bytes = new Uint8Array(await readFile(file!));
const r = await openMessage(bytes, { keyring });
const ms = performance.now() - start;
process.stdout.write(
  `${JSON.stringify({
    ms: Math.round(ms),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    protocol: r.protocol,
    encrypted: r.encrypted,
    signature: r.signature.status,
    attachments: r.attachments.map((a) => a.size),
  })}\n`,
);
