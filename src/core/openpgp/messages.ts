/**
 * OpenPGP messages: decrypt (public-key or password), verify inline, cleartext and detached
 * signatures. Everything runs on whole, non-streamed input, so OpenPGP.js checks the integrity
 * (MDC or AEAD tag) of the whole message before it hands out a single byte of plaintext.
 */
import * as openpgp from 'openpgp';
import { utf8 } from '../bytes.ts';
import type { OpenContext } from '../context.ts';
import { SealpostError, malformed } from '../errors.ts';
import {
  emptySignature,
  type EncryptedLayer,
  type RecipientDescription,
  type SignedLayer,
} from '../report.ts';
import { describeKey, privateKeys, verificationKeys } from './keys.ts';
import {
  aeadName,
  armorType,
  decompressionLimit,
  errorText,
  hex,
  pgpError,
  publicKeyAlgorithmName,
  dearmorMessage,
  readInput,
  strictConfig,
  symmetricName,
  type ErrorContext,
  type PgpInput,
} from './lib.ts';
import { internals, type DecryptedSessionKey, type VerificationResult } from './internals.ts';
import { reportSignatures, unparseableSignatures } from './signatures.ts';

type AnyPacket = openpgp.AnyPacket;

/** The all-zero key ID of an anonymous recipient (`gpg --throw-keyids`, RFC 9580 §5.1). */
const isWildcard = (id: openpgp.KeyID): boolean => /^0+$/.test(id.toHex());

/**
 * OpenPGP.js parses a packet list up to its first data packet and leaves the rest (typically the
 * signatures) in an internal stream. Reads that rest into the list, so that grammar errors surface
 * now and every packet (also the ones it could not parse) can be looked at.
 */
async function complete(list: openpgp.PacketList<AnyPacket>): Promise<void> {
  type Reader = { read(): Promise<{ done: boolean; value?: AnyPacket }> };
  const holder = list as unknown as { stream?: { getReader?: () => Reader } | null };
  const stream = holder.stream;
  if (!stream || typeof stream.getReader !== 'function') return;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (value) list.push(value);
  }
  holder.stream = null;
}

async function parseMessage(
  data: Uint8Array,
  ctx: OpenContext,
  what: string,
): Promise<{
  message: openpgp.Message<Uint8Array>;
  config: openpgp.Config;
  ec: ErrorContext;
  cleartext: string | null;
}> {
  const dearmored = dearmorMessage(data, what);
  const input: PgpInput = dearmored ? { binary: dearmored } : readInput(data, what);
  const decompression = decompressionLimit(ctx.limits, data.length);
  const config = strictConfig(decompression);
  const ec: ErrorContext = {
    what,
    decompression,
    armored: dearmored !== null || input.armored !== undefined,
  };
  if (input.armored !== undefined) {
    const type = armorType(input.armored);
    if (type === 'SIGNED MESSAGE') {
      return {
        message: null as unknown as openpgp.Message<Uint8Array>,
        config,
        ec,
        cleartext: input.armored,
      };
    }
    if (type !== 'MESSAGE') throw malformed(`${what} is not an OpenPGP message (armor "${type ?? '?'}").`);
  }
  try {
    const message =
      input.armored !== undefined
        ? ((await openpgp.readMessage({
            armoredMessage: input.armored,
            config,
          })) as unknown as openpgp.Message<Uint8Array>)
        : await openpgp.readMessage({ binaryMessage: input.binary, config });
    return { message, config, ec, cleartext: null };
  } catch (e) {
    throw pgpError(e, ec);
  }
}

const ENCRYPTED_TAGS = [
  openpgp.enums.packet.symmetricallyEncryptedData,
  openpgp.enums.packet.symEncryptedIntegrityProtectedData,
  openpgp.enums.packet.aeadEncryptedData,
] as const;

function unsupportedCipher(name: string, cause: unknown): SealpostError {
  return new SealpostError(
    'unsupported',
    `The message is encrypted with ${name}, which Sealpost cannot decrypt.`,
    { algorithm: name },
    { cause },
  );
}

function notEncrypted(what: string): SealpostError {
  return new SealpostError('malformed', `${what} is not encrypted.`, { notEncrypted: true });
}

export async function decryptMessage(
  data: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer; signed: SignedLayer | null }> {
  const what = 'The OpenPGP message';
  const { message, config, ec, cleartext } = await parseMessage(data, ctx, what);
  if (cleartext !== null) throw notEncrypted(what);
  const packets = message.packets;
  const encryptedPackets = packets.filterByTag(...ENCRYPTED_TAGS);
  if (encryptedPackets.length === 0) throw notEncrypted(what);
  const encrypted = encryptedPackets[0]!;
  if (encrypted instanceof openpgp.SymmetricallyEncryptedDataPacket) {
    throw new SealpostError(
      'unsupported',
      'The message is encrypted without integrity protection (a pre-2001 format that cannot be opened safely).',
      { algorithm: 'Symmetrically Encrypted Data without MDC (packet tag 9)' },
    );
  }
  // Whatever follows the encrypted data must still be a well-formed message (no hidden extras).
  try {
    await complete(packets);
  } catch (e) {
    throw pgpError(e, ec);
  }

  const pkesks = packets.filterByTag(openpgp.enums.packet.publicKeyEncryptedSessionKey).map(internals.pkesk);
  const skesks = packets.filterByTag(openpgp.enums.packet.symEncryptedSessionKey).map(internals.skesk);

  const ours = await privateKeys(ctx.keyring);
  const known = await verificationKeys(ctx.keyring);
  const recipients: RecipientDescription[] = [];
  for (const p of pkesks) {
    const keyId = hex(p.publicKeyID);
    const wildcard = isWildcard(p.publicKeyID);
    const holder = wildcard ? null : known.find((k) => k.key.getKeys(p.publicKeyID).length > 0);
    recipients.push({
      type: 'openpgp-public-key',
      description: wildcard
        ? 'an anonymous recipient (hidden key ID)'
        : holder
          ? await describeKey(holder.key, ctx.now)
          : `key ID ${keyId}`,
      algorithm: publicKeyAlgorithmName(p.publicKeyAlgorithm),
      keyId,
    });
  }
  for (const p of skesks) {
    const s2k = p.s2k;
    recipients.push({
      type: 'openpgp-password',
      description: 'a password',
      algorithm: `${symmetricName(p.sessionKeyEncryptionAlgorithm ?? p.sessionKeyAlgorithm)}${s2k?.type ? `, S2K ${s2k.type}` : ''}`,
    });
  }

  const encryptedInfo = internals.encrypted(encrypted);
  const expectedAlgorithm = encryptedInfo.cipherAlgorithm ?? undefined;
  let sessionKeys: DecryptedSessionKey[] | null = null;
  let openedBy: EncryptedLayer['openedBy'] = null;
  let keyFailure: unknown = null;
  let viaPassword = false;

  // 1. Our secret keys, tried one PKESK and one key at a time so the report can say which opened it.
  for (let i = 0; i < pkesks.length && !sessionKeys; i++) {
    const p = pkesks[i]!;
    const candidates = isWildcard(p.publicKeyID)
      ? ours
      : ours.filter((k) => k.getKeys(p.publicKeyID).length > 0);
    for (const key of candidates) {
      try {
        // decryptSessionKeys consumes the packets it reads: work on a copy.
        const copy = new openpgp.PublicKeyEncryptedSessionKeyPacket();
        internals.pkesk(copy).read(p.write());
        const list = new openpgp.PacketList<AnyPacket>();
        list.push(copy);
        sessionKeys = await internals
          .message(new openpgp.Message(list))
          .decryptSessionKeys([key], undefined, expectedAlgorithm, ctx.now, config);
        openedBy = {
          recipient: i,
          keyId: hex(key.getKeyID()),
          description: await describeKey(key.toPublic(), ctx.now),
        };
        break;
      } catch (e) {
        keyFailure = e;
      }
    }
  }

  // 2. The password.
  if (!sessionKeys && skesks.length > 0) {
    if (ctx.password === undefined) {
      if (keyFailure === null) {
        throw new SealpostError(
          'bad-password',
          'The message is encrypted with a password: enter it to open it.',
          {
            passwordRequired: true,
            recipients: recipients.map((r) => r.description),
          },
        );
      }
    } else {
      try {
        sessionKeys = await internals
          .message(message)
          .decryptSessionKeys(undefined, [ctx.password], expectedAlgorithm, ctx.now, config);
        viaPassword = true;
        openedBy = { recipient: pkesks.length, keyId: '', description: 'the password' };
      } catch (e) {
        const mapped = pgpError(e, ec);
        if (mapped.code === 'limit-exceeded' || mapped.code === 'unsupported') throw mapped;
        throw new SealpostError('bad-password', 'The password is wrong.', {}, { cause: e });
      }
    }
  }

  if (!sessionKeys) {
    if (keyFailure !== null) {
      const text = errorText(keyFailure);
      const mapped = pgpError(keyFailure, ec);
      if (mapped.code === 'unsupported' && /Invalid enum value/.test(text)) {
        // The decrypted session key names a cipher OpenPGP.js does not know (it does not say which).
        throw unsupportedCipher(
          'a symmetric cipher other than AES, TripleDES, CAST5, Blowfish and Twofish (such as Camellia)',
          keyFailure,
        );
      }
      // IDEA is the one cipher OpenPGP.js knows by number but does not implement.
      if (/Unsupported cipher/.test(text)) throw unsupportedCipher('IDEA', keyFailure);
      if (mapped.code === 'unsupported' || mapped.code === 'limit-exceeded') throw mapped;
      if (/Decryption error|Key Data Integrity|integrity|checksum|padding/i.test(text)) {
        throw new SealpostError(
          'integrity-failure',
          `The message is addressed to your key, but its encrypted session key does not decrypt: it was altered or damaged (${text}).`,
          { recipients: recipients.map((r) => r.description) },
          { cause: keyFailure },
        );
      }
      throw new SealpostError(
        'no-matching-key',
        `The message is addressed to your key, but the key cannot decrypt it (${text}).`,
        { recipients: recipients.map((r) => r.description) },
        { cause: keyFailure },
      );
    }
    throw new SealpostError(
      'no-matching-key',
      `None of your keys can open this message. It is encrypted for: ${recipients.map((r) => r.description).join('; ') || 'nobody named'}.`,
      { recipients: recipients.map((r) => r.description) },
    );
  }

  // 3. The data: integrity (MDC or AEAD) is checked over the whole message before anything returns.
  let decrypted: openpgp.Message<Uint8Array>;
  try {
    decrypted = await internals.message(message).decrypt(undefined, undefined, sessionKeys, ctx.now, config);
  } catch (e) {
    const mapped = pgpError(e, ec);
    if (mapped.code === 'unsupported' && /cipher/i.test(errorText(e))) {
      throw unsupportedCipher(symmetricName(encryptedInfo.cipherAlgorithm ?? sessionKeys[0]?.algorithm), e);
    }
    if (viaPassword && mapped.code === 'integrity-failure') {
      // SKESK v4 carries no check of its own: a wrong password shows up only as a failed MDC.
      throw new SealpostError(
        'bad-password',
        'The password is wrong (or the message was altered).',
        {},
        { cause: e },
      );
    }
    throw mapped;
  }

  const seipd = encryptedInfo;
  const aead = encrypted instanceof openpgp.AEADEncryptedDataPacket || seipd.version === 2;
  const cipher = symmetricName(seipd.cipherAlgorithm ?? sessionKeys[0]?.algorithm);
  const layer: EncryptedLayer = {
    kind: 'encrypted',
    format: 'openpgp',
    contentAlgorithm: aead ? `${cipher}-${aeadName(seipd.aeadAlgorithm)}` : cipher,
    recipients,
    openedBy,
    integrityProtected: true,
    problems: [],
  };
  const { content, signed } = await literalAndSignatures(decrypted, ctx, config, ec, 'openpgp');
  return { content, layer, signed };
}

/**
 * The literal data of a (decrypted or plain) message and the report on its signatures; `signed`
 * is null when the message carries no signature at all.
 */
async function literalAndSignatures(
  message: openpgp.Message<Uint8Array>,
  ctx: OpenContext,
  config: openpgp.Config,
  ec: ErrorContext,
  format: SignedLayer['format'],
): Promise<{ content: Uint8Array; signed: SignedLayer | null }> {
  const keys = await verificationKeys(ctx.keyring);
  let results: VerificationResult[];
  let inner: openpgp.Message<Uint8Array>;
  try {
    inner = message.unwrapCompressed();
    // The packets after the literal data (the signatures), checking the message grammar.
    await complete(inner.packets);
    results = await internals.message(message).verify(
      keys.map((k) => k.key),
      ctx.now,
      config,
    );
  } catch (e) {
    throw pgpError(e, ec);
  }
  const literal = inner.packets.findPacket(openpgp.enums.packet.literalData) as
    openpgp.LiteralDataPacket | undefined;
  if (!literal) throw malformed(`${ec.what} holds no literal data.`);
  let content: Uint8Array;
  try {
    content = await bytesOf(internals.literal(literal).getBytes());
  } catch (e) {
    throw pgpError(e, ec);
  }
  const unparseable = unparseableSignatures([...inner.packets]);
  const hasOps = inner.packets.filterByTag(openpgp.enums.packet.onePassSignature).length > 0;
  if (results.length === 0 && unparseable === 0 && !hasOps) return { content, signed: null };
  const literalForCheck = literal;
  const signatures = await reportSignatures(results, literalForCheck, false, keys, ctx, unparseable);
  return { content, signed: { kind: 'signed', format, signatures } };
}

async function bytesOf(value: unknown): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value;
  if (value === null || value === undefined) return new Uint8Array(0);
  throw malformed('OpenPGP.js returned streamed literal data for a whole message.');
}

/** A cleartext-signed text or an inline signed (not encrypted) message. */
export async function openSigned(
  data: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  const what = 'The signed OpenPGP message';
  const { message, config, ec, cleartext } = await parseMessage(data, ctx, what);
  if (cleartext !== null) return openCleartext(cleartext, ctx, config, ec);
  if (message.packets.filterByTag(...ENCRYPTED_TAGS).length > 0) {
    throw malformed(`${what} is encrypted: decrypt it instead.`, { encrypted: true });
  }
  const { content, signed } = await literalAndSignatures(message, ctx, config, ec, 'openpgp');
  return { content, layer: signed ?? { kind: 'signed', format: 'openpgp', signatures: [] } };
}

async function openCleartext(
  armored: string,
  ctx: OpenContext,
  config: openpgp.Config,
  ec: ErrorContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  const keys = await verificationKeys(ctx.keyring);
  let message: openpgp.CleartextMessage;
  let results: VerificationResult[];
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: armored, config });
    results = await internals.cleartext(message).verify(
      keys.map((k) => k.key),
      ctx.now,
      config,
    );
  } catch (e) {
    throw pgpError(e, ec);
  }
  const text = message.getText();
  // The packet the signatures were computed over, rebuilt as OpenPGP.js does, for the maths-only check.
  const literal = new openpgp.LiteralDataPacket();
  internals.literal(literal).setText(text);
  const unparseable = unparseableSignatures([...internals.cleartext(message).signature.packets]);
  const signatures = await reportSignatures(results, literal, true, keys, ctx, unparseable);
  if (signatures.length === 0) {
    signatures.push(noSignature('The cleartext-signed message carries no signature that can be read.'));
  }
  return { content: utf8(text), layer: { kind: 'signed', format: 'openpgp-cleartext', signatures } };
}

function noSignature(problem: string): SignedLayer['signatures'][number] {
  return emptySignature('invalid', [problem]);
}

/** A detached signature (PGP/MIME) over exactly `content`. */
export async function verifyDetached(
  content: Uint8Array,
  signatureData: Uint8Array,
  ctx: OpenContext,
): Promise<SignedLayer> {
  const what = 'The OpenPGP signature';
  const input = readInput(signatureData, what);
  const config = strictConfig();
  const ec: ErrorContext = { what, armored: input.armored !== undefined };
  if (input.armored !== undefined && armorType(input.armored) !== 'SIGNATURE') {
    throw malformed(`${what} is not an OpenPGP signature (armor "${armorType(input.armored) ?? '?'}").`);
  }
  const keys = await verificationKeys(ctx.keyring);
  let signature: openpgp.Signature;
  let results: VerificationResult[];
  let literal: openpgp.LiteralDataPacket;
  try {
    signature =
      input.armored !== undefined
        ? await openpgp.readSignature({ armoredSignature: input.armored, config })
        : await openpgp.readSignature({ binarySignature: input.binary, config });
    const message = await openpgp.createMessage({ binary: content, format: 'binary' });
    literal = message.packets.findPacket(openpgp.enums.packet.literalData) as openpgp.LiteralDataPacket;
    results = await internals.message(message).verifyDetached(
      signature,
      keys.map((k) => k.key),
      ctx.now,
      config,
    );
  } catch (e) {
    throw pgpError(e, ec);
  }
  const unparseable = unparseableSignatures([...signature.packets]);
  const signatures = await reportSignatures(results, literal, true, keys, ctx, unparseable);
  if (signatures.length === 0) {
    signatures.push(noSignature('The signature part holds no document signature.'));
  }
  return { kind: 'signed', format: 'pgp-mime', signatures };
}
