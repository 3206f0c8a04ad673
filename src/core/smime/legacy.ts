/**
 * Block-cipher operations WebCrypto does not offer, through node-forge (pure JS, loaded only when a
 * message needs it): 3DES (read only, for old mail), AES-192 (Chromium's WebCrypto has no 192-bit
 * AES), and raw CBC without padding (RFC 3211 password key unwrap).
 */
import type * as ForgeModule from 'node-forge';
import { SealpostError } from '../errors.ts';

type Forge = typeof ForgeModule;
let forgePromise: Promise<Forge> | null = null;

export async function loadForge(): Promise<Forge> {
  forgePromise ??= import('node-forge').then((m) => ((m as { default?: Forge }).default ?? m) as Forge);
  return forgePromise;
}

function toBinary(bytes: Uint8Array): string {
  let out = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) out += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return out;
}

function fromBinary(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export type BlockCipher = 'AES' | '3DES';

/** CBC decryption. With `padded`, PKCS#7 padding is checked and removed (failure → null). */
export async function cbcDecrypt(
  cipher: BlockCipher,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  padded: boolean,
): Promise<Uint8Array | null> {
  const forge = await loadForge();
  const blockSize = cipher === 'AES' ? 16 : 8;
  if (data.length === 0 || data.length % blockSize !== 0 || iv.length !== blockSize) return null;
  const decipher = forge.cipher.createDecipher(cipher === 'AES' ? 'AES-CBC' : '3DES-CBC', toBinary(key));
  decipher.start({ iv: toBinary(iv) });
  decipher.update(forge.util.createBuffer(toBinary(data)));
  // forge's finish() takes an unpad callback (missing from its type definitions): accept raw blocks.
  const finish = decipher.finish as (unpad?: () => boolean) => boolean;
  const ok = padded ? finish.call(decipher) : finish.call(decipher, () => true);
  if (!ok) return null;
  return fromBinary(decipher.output.getBytes());
}

export async function md5(data: Uint8Array): Promise<Uint8Array> {
  const forge = await loadForge();
  const md = forge.md.md5.create();
  md.update(toBinary(data));
  return fromBinary(md.digest().getBytes());
}

export { toBinary, fromBinary };

export function legacyUnsupported(name: string): SealpostError {
  return new SealpostError('unsupported', `The message uses ${name}, which Sealpost does not support.`, {
    algorithm: name,
  });
}
