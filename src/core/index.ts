/**
 * The public entry of core. Server, receiver and CLI import core through this file only.
 */
export * from './errors.ts';
export * from './limits.ts';
export * from './report.ts';
export * from './keyring.ts';
export type { OpenContext } from './context.ts';
export {
  base64Decode,
  base64Encode,
  concatBytes,
  equalBytes,
  fromHex,
  fromUtf8,
  sha256Hex,
  toHex,
  utf8,
} from './bytes.ts';
