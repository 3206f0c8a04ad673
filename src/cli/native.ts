/**
 * Native helpers the CLI hands to core (core itself imports nothing from Node). Node's base64
 * decoder follows the same lenient rules as core's transfer-encoding decoder (white space and other
 * stray bytes skipped, stop at the first '='; test/core/mime checks both agree) and is about twice
 * as fast on large bodies.
 */
import { useHostBase64Decoder } from '../core/index.ts';

export function nodeBase64Decode(ascii: Uint8Array): Uint8Array {
  const text = Buffer.from(ascii.buffer, ascii.byteOffset, ascii.length).toString('latin1');
  const out = Buffer.from(text, 'base64');
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export function useNodeAcceleration(): void {
  useHostBase64Decoder(nodeBase64Decode);
}
