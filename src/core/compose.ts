/**
 * Building secure messages: the one builder behind secure reply in the browser (issue 14) and
 * gateway encryption on the server (issue 15). Input is what the author wrote (ComposeInput); output
 * is a complete RFC 5322 message, ready for SMTP, whose true header fields are protected inside the
 * cryptographic envelope (RFC 9788, see mime/build.ts).
 *
 * - S/MIME (RFC 8551): optional SignedData (SHA-256, chain, signingTime, SMIMECapabilities), then
 *   AuthEnvelopedData AES-256-GCM or EnvelopedData AES-256-CBC to certificates and/or passwords.
 * - PGP/MIME (RFC 3156): multipart/encrypted around an OpenPGP message that OpenPGP.js signs and
 *   encrypts in one pass, to keys and/or passwords (SKESK).
 */
import * as openpgp from 'openpgp';
import { base64Encode, concatBytes, utf8 } from './bytes.ts';
import { SealpostError } from './errors.ts';
import { buildPayload, type ComposeInput } from './mime/build.ts';
import { buildEnvelopedCms, buildSignedCms, type CmsRecipient, type CmsSigner } from './smime/build.ts';

export type { ComposeInput, ComposeAttachment } from './mime/build.ts';
export type { CmsRecipient, CmsSigner } from './smime/build.ts';

export interface SmimeBuildOptions {
  /** Sign first (signed-then-encrypted) with this key; omit for encrypt-only. */
  signer?: CmsSigner;
  /** Certificates to encrypt to: every recipient, and the author's own for a readable sent copy. */
  recipients: readonly CmsRecipient[];
  /** Password-protected copy (CMS PWRI, RFC 3211) for recipients without a certificate. */
  passwords?: readonly string[];
  /** 'auto' (default): AES-256-GCM when every recipient has gcm: true, else AES-256-CBC. */
  contentEncryption?: 'auto' | 'aes-256-gcm' | 'aes-256-cbc';
  signingTime?: Date;
}

export interface BuiltMessage {
  /** The complete message (CRLF line ends). */
  message: Uint8Array;
  /** The Message-ID written (with angle brackets). */
  messageId: string;
  /** S/MIME: which content encryption was used. */
  contentEncryption?: 'aes-256-gcm' | 'aes-256-cbc';
}

function buildFailure(e: unknown, what: string): SealpostError {
  if (e instanceof SealpostError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new SealpostError('malformed', `${what} could not be built: ${text}`, {}, { cause: e });
}

function messageIdOf(outer: Uint8Array): string {
  return /^Message-ID: (.*)$/m.exec(new TextDecoder().decode(outer))?.[1]?.trim() ?? '';
}

function pkcs7Part(smimeType: string, der: Uint8Array): string {
  return (
    `Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"\r\n` +
    `Content-Transfer-Encoding: base64\r\n` +
    `Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n` +
    base64Encode(der, 76, '\r\n') +
    '\r\n'
  );
}

/** A signed-then-encrypted (or encrypt-only) S/MIME message with protected headers. */
export async function buildSmimeMessage(
  input: ComposeInput,
  options: SmimeBuildOptions,
): Promise<BuiltMessage> {
  try {
    const { payload, outer } = buildPayload(input, 'cipher');
    let inner = payload;
    if (options.signer) {
      const signed = await buildSignedCms(payload, options.signer, { signingTime: options.signingTime });
      inner = utf8(pkcs7Part('signed-data', signed));
    }
    const env = await buildEnvelopedCms(inner, {
      recipients: options.recipients,
      passwords: options.passwords,
      contentEncryption: options.contentEncryption,
    });
    const part = pkcs7Part(env.gcm ? 'authEnveloped-data' : 'enveloped-data', env.der);
    return {
      message: concatBytes([outer, utf8(part)]),
      messageId: messageIdOf(outer),
      contentEncryption: env.gcm ? 'aes-256-gcm' : 'aes-256-cbc',
    };
  } catch (e) {
    throw buildFailure(e, 'The S/MIME message');
  }
}

export interface PgpBuildOptions {
  /** Armored secret key, unlocked (a keyring OpenPgpPrivateEntry's `armored`); omit to encrypt only. */
  signingKey?: string;
  /** Recipients' public keys, armored or binary (include the author's own for a readable sent copy). */
  encryptionKeys: readonly (string | Uint8Array)[];
  /** Password-protected copy (SKESK) for recipients without a key. */
  passwords?: readonly string[];
}

async function readPublic(k: string | Uint8Array): Promise<openpgp.Key> {
  return typeof k === 'string' ? openpgp.readKey({ armoredKey: k }) : openpgp.readKey({ binaryKey: k });
}

/** A PGP/MIME (RFC 3156) signed and encrypted message with protected headers. */
export async function buildPgpMimeMessage(
  input: ComposeInput,
  options: PgpBuildOptions,
): Promise<BuiltMessage> {
  try {
    if (options.encryptionKeys.length === 0 && !options.passwords?.length)
      throw new SealpostError('malformed', 'A message needs at least one recipient key or password.');
    const { payload, outer } = buildPayload(input, 'cipher');
    const encryptionKeys = await Promise.all(options.encryptionKeys.map(readPublic));
    const signingKeys = options.signingKey
      ? await openpgp.readPrivateKey({ armoredKey: options.signingKey })
      : undefined;
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: payload, format: 'binary' }),
      encryptionKeys,
      ...(signingKeys ? { signingKeys } : {}),
      ...(options.passwords?.length ? { passwords: [...options.passwords] } : {}),
      format: 'armored',
    });
    const boundary = `=_sealpost_${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')}`;
    const body =
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"\r\n\r\n` +
      `This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n` +
      `--${boundary}\r\nContent-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n` +
      `--${boundary}\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n` +
      `Content-Description: OpenPGP encrypted message\r\nContent-Disposition: inline; filename="encrypted.asc"\r\n\r\n` +
      armored.replace(/\r?\n/g, '\r\n') +
      `\r\n--${boundary}--\r\n`;
    return { message: concatBytes([outer, utf8(body)]), messageId: messageIdOf(outer) };
  } catch (e) {
    throw buildFailure(e, 'The PGP/MIME message');
  }
}
