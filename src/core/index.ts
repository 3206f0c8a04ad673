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
  Base64StreamDecoder,
  useHostBase64Decoder,
  base64Encode,
  concatBytes,
  equalBytes,
  fromHex,
  fromUtf8,
  sha256Hex,
  toHex,
  utf8,
} from './bytes.ts';
export { classifyMessage, readEnvelopeHeaders, CLASSIFY_SCAN_BYTES } from './classify.ts';
export type { Classification, EnvelopeHeaders } from './classify.ts';
export { parseAddresses, normalizeAddress, formatMailbox } from './mime/addresses.ts';
export type { Mailbox } from './mime/addresses.ts';
export { openMessage } from './open.ts';
export { IncomingMessage, isPreparedMessage } from './incoming.ts';
export type { PreparedMessage } from './incoming.ts';
export type { OpenOptions } from './open.ts';
export {
  describeCertificateDer,
  exportPrivateKey,
  generateIdentity,
  importKeyFile,
  importKeyFiles,
  sniffKeyFile,
} from './keyfile.ts';
export type { GenerateKind, ImportOptions, KeyFileKind } from './keyfile.ts';
export { safeFilename } from './mime/content.ts';
export { wkdHash, wkdUrls, zBase32 } from './wkd.ts';
export type { WkdUrls } from './wkd.ts';
// The message builder (./compose.ts: buildSmimeMessage, buildPgpMimeMessage) is its own entry, not
// re-exported here: the receiver's worker imports this index, and the builder's static imports of
// OpenPGP.js and the S/MIME code would put both lazy halves into its first load.
export type {
  BuiltMessage,
  CmsRecipient,
  CmsSigner,
  ComposeAttachment,
  ComposeInput,
  PgpBuildOptions,
  SmimeBuildOptions,
} from './compose.ts';
