/**
 * Seals what the notification outbox must keep until the mail has gone out (the link secret), with
 * AES-256-GCM under a key that is not in the database: `--sealing-key` (shared by every node of a
 * scale-out deployment) or a key file created in the data folder at first start. The sealed payload
 * is wiped once the notification is sent.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Sealer {
  seal(plain: Uint8Array): Uint8Array;
  open(sealed: Uint8Array): Uint8Array;
}

export function createSealer(key: Uint8Array): Sealer {
  if (key.length !== 32) throw new Error('The sealing key must be 32 bytes.');
  const k = Buffer.from(key);
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', k, iv);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return new Uint8Array(Buffer.concat([Buffer.from([1]), iv, body, c.getAuthTag()]));
    },
    open(sealed) {
      const b = Buffer.from(sealed);
      if (b.length < 1 + 12 + 16 || b[0] !== 1) throw new Error('Unknown sealed payload format.');
      const d = createDecipheriv('aes-256-gcm', k, b.subarray(1, 13));
      d.setAuthTag(b.subarray(b.length - 16));
      return new Uint8Array(Buffer.concat([d.update(b.subarray(13, b.length - 16)), d.final()]));
    },
  };
}

/** The configured key, or the data folder's key file (created with mode 0600 when missing). */
export async function loadSealingKey(dataDir: string, configured: string | null): Promise<Uint8Array> {
  if (configured) return new Uint8Array(Buffer.from(configured, 'base64'));
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'sealing.key');
  try {
    const key = await readFile(path);
    if (key.length !== 32) throw new Error(`${path} is not a 32-byte key.`);
    return new Uint8Array(key);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = randomBytes(32);
  try {
    const fh = await open(path, 'wx', 0o600);
    await fh.writeFile(key);
    await fh.sync();
    await fh.close();
    return new Uint8Array(key);
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return new Uint8Array(await readFile(path));
    throw e;
  }
}
