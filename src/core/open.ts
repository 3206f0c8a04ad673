/**
 * The peel loop: decrypt ▸ parse MIME ▸ verify ▸ parse MIME ▸ repeat, until plain MIME remains,
 * reporting every layer. The S/MIME and OpenPGP halves are imported on demand, so a browser loads
 * only the half a message needs.
 */
import { latin1 } from './bytes.ts';
import { IncomingMessage, isPreparedMessage, type PreparedMessage } from './incoming.ts';
import { readEnvelopeHeaders, type EnvelopeHeaders } from './classify.ts';
import type { OpenContext } from './context.ts';
import { SealpostError, asSealpostError, limitExceeded, malformed, unsupported } from './errors.ts';
import type { Keyring } from './keyring.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { extractContent, type MessageContent } from './mime/content.ts';
import { decodeBody, parseEntity, splitMultipart, textEntity, toCrlf, type Entity } from './mime/entity.ts';
import { normalizeAddress } from './mime/addresses.ts';
import { parseHeaderBlock } from './mime/headers.ts';
import { PGP_SIGNED, leadingArmor, shapeOf } from './shape.ts';
import {
  bindToFrom,
  NO_SIGNATURE,
  type Layer,
  type OpenedMessage,
  type Protocol,
  type SignatureReport,
  type SignedLayer,
} from './report.ts';

export interface OpenOptions {
  keyring: Keyring;
  /** The message password (S/MIME PWRI or OpenPGP symmetric encryption). */
  password?: string;
  limits?: Partial<Limits>;
  /** Judge certificates and keys at this time (default: now). */
  now?: Date;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Opens a complete RFC 5322 message. Throws only SealpostError. A message with an invalid signature
 * is not an error: it is reported with status 'invalid', and none of the content under that
 * signature is returned.
 */
export async function openMessage(
  input: Uint8Array | ReadableStream<Uint8Array> | PreparedMessage,
  options: OpenOptions,
): Promise<OpenedMessage> {
  try {
    return await peel(input, options);
  } catch (e) {
    throw asSealpostError(e);
  }
}

async function peel(
  input: Uint8Array | ReadableStream<Uint8Array> | PreparedMessage,
  options: OpenOptions,
): Promise<OpenedMessage> {
  const limits = resolveLimits(options.limits);
  let bytes: Uint8Array;
  // The top-level CMS object, when its transfer encoding was decoded while the message arrived.
  let predecoded: Uint8Array | null = null;
  let size: number;
  if (input instanceof Uint8Array) {
    if (input.length > limits.maxTotalBytes) throw limitExceeded('total size', limits.maxTotalBytes);
    bytes = input;
    size = input.length;
  } else {
    let prepared: PreparedMessage;
    if (isPreparedMessage(input)) {
      prepared = input;
    } else {
      const incoming = new IncomingMessage({ limits });
      const reader = input.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          incoming.push(value);
          options.onProgress?.('read', incoming.received, 0);
        }
      } finally {
        reader.releaseLock();
      }
      prepared = incoming.end();
    }
    if (prepared.size > limits.maxTotalBytes) throw limitExceeded('total size', limits.maxTotalBytes);
    bytes = prepared.head;
    predecoded = prepared.decodedBody;
    size = prepared.size;
  }
  if (size === 0) throw malformed('The message is empty.');

  let envelope = readEnvelopeHeaders(bytes);
  const ctx: OpenContext = {
    keyring: options.keyring,
    limits,
    now: options.now ?? new Date(),
    fromAddress: envelope.from ? normalizeAddress(envelope.from.address) : null,
    messageBytes: size,
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };

  const layers: Layer[] = [];
  let protocol: Protocol = 'plain';
  let encrypted = false;
  let current = bytes;
  let withheld = false; // content under an invalid signature is never returned
  let prefetched: Promise<Settled<MessageContent>> | null = null;
  const setProtocol = (p: Protocol): void => {
    if (protocol === 'plain') protocol = p;
  };
  const addLayer = (layer: Layer): void => {
    layers.push(layer);
    if (layers.length > limits.maxLayers) throw limitExceeded('layers', limits.maxLayers);
  };

  for (let step = 0; ; step++) {
    if (step > limits.maxLayers * 2 + 2) throw limitExceeded('layers', limits.maxLayers);
    const entity = parseEntity(current, limits);
    const shape = shapeOf(entity);

    if (shape === 'cms') {
      setProtocol('smime');
      const der = step === 0 && predecoded ? predecoded : decodeBody(entity);
      predecoded = null;
      const smime = await import('./smime/index.ts');
      const kind = smime.cmsKind(der);
      if (kind === 'enveloped' || kind === 'auth-enveloped') {
        const { content, layer } = await smime.decryptCms(der, ctx);
        addLayer(layer);
        encrypted = true;
        current = content;
        continue;
      }
      if (kind === 'signed') {
        const { content, layer } = await smime.verifySignedData(der, null, ctx);
        addLayer(layer);
        if (signatureOf(layer).status === 'invalid') {
          withheld = true;
          break;
        }
        current = content;
        continue;
      }
      if (kind === 'compressed') {
        current = await smime.decompressCms(der, ctx);
        continue;
      }
      const name = smime.cmsContentTypeName(der);
      throw unsupported(name, `This S/MIME part holds ${name}, which Sealpost cannot open.`);
    }

    if (shape === 'multipart-signed') {
      const proto = (entity.contentType.params.protocol ?? '').toLowerCase();
      const { parts } = splitMultipart(entity, limits);
      if (parts.length < 2)
        throw malformed('The signed message does not have both a content part and a signature part.');
      const signed = parts[0]!;
      const signatureEntity = parseEntity(parts[1]!, limits);
      const signature = decodeBody(signatureEntity);
      let verifying: Promise<SignedLayer>;
      if (proto === 'application/pkcs7-signature' || proto === 'application/x-pkcs7-signature') {
        setProtocol('smime');
        const smime = await import('./smime/index.ts');
        verifying = smime.verifySignedData(signature, toCrlf(signed), ctx).then((r) => r.layer);
      } else if (proto === 'application/pgp-signature') {
        setProtocol('pgp-mime');
        const pgp = await import('./openpgp/index.ts');
        verifying = pgp.verifyOpenPgpDetached(toCrlf(signed), signature, ctx);
      } else {
        throw unsupported(`multipart/signed protocol ${proto || '(none)'}`);
      }
      // When the signed part is the final content, read it while the signature is being checked
      // (the digest runs on the crypto thread pool). Nothing read here is returned unless the
      // check passes: an invalid signature discards it below.
      // `verifying` is settled at once: if anything below throws first, its rejection is still
      // handled (an unhandled rejection ends a Node process).
      const verified = settle(verifying);
      const early = isFinalContent(signed, limits)
        ? settle(Promise.resolve().then(() => extractContent(withHeaders(signed, limits), limits)))
        : null;
      const layer = unwrap(await verified);
      addLayer(layer);
      if (signatureOf(layer).status === 'invalid') {
        withheld = true;
        break;
      }
      current = signed;
      if (early) {
        prefetched = early;
        break;
      }
      continue;
    }

    if (shape === 'multipart-encrypted') {
      const proto = (entity.contentType.params.protocol ?? '').toLowerCase();
      if (proto !== 'application/pgp-encrypted')
        throw unsupported(`multipart/encrypted protocol ${proto || '(none)'}`);
      setProtocol('pgp-mime');
      const { parts } = splitMultipart(entity, limits);
      if (parts.length < 2) throw malformed('The PGP/MIME message does not have its encrypted part.');
      const data = decodeBody(parseEntity(parts[1]!, limits));
      const pgp = await import('./openpgp/index.ts');
      const { content, layer, signed } = await pgp.decryptOpenPgp(data, ctx);
      addLayer({ ...layer, format: 'pgp-mime' });
      encrypted = true;
      if (signed) {
        addLayer(signed);
        if (signatureOf(signed).status === 'invalid') {
          withheld = true;
          break;
        }
      }
      current = content;
      continue;
    }

    if (shape === 'openpgp-body') {
      // A whole-message OpenPGP body (not MIME-structured).
      setProtocol('openpgp-inline');
      const result = await openInline(decodeBody(entity), ctx, addLayer);
      encrypted ||= result.encrypted;
      if (result.withheld) {
        withheld = true;
        break;
      }
      current = result.next;
      continue;
    }

    if (shape === 'text') {
      const body = decodeBody(entity);
      const armor = leadingArmor(body);
      if (armor) {
        setProtocol('openpgp-inline');
        const result = await openInline(body.subarray(armor.start, armor.end), ctx, addLayer);
        encrypted ||= result.encrypted;
        if (result.withheld) {
          withheld = true;
          break;
        }
        current = result.next;
        continue;
      }
    }

    if (shape === 'message' && layers.length > 0) {
      // RFC 8551 §3.1: the sender wrapped the whole message to protect its headers. The inner
      // headers are the ones under the signature/encryption: show those.
      const inner = decodeBody(entity);
      const innerEnvelope = readEnvelopeHeaders(inner);
      if (innerEnvelope.from) {
        envelope = mergeEnvelope(envelope, innerEnvelope);
        ctx.fromAddress = normalizeAddress(innerEnvelope.from.address);
      }
      current = inner;
      continue;
    }
    break;
  }

  // RFC 9788 header protection: the cryptographic payload (what is left inside every layer) carries
  // the true header fields and says so with an `hp` Content-Type parameter; the outer ones may be
  // placeholders ("..."). Show the protected ones; the signature binds those.
  if (layers.length > 0 && !withheld) {
    const payload = parseEntity(current, limits);
    if (payload.contentType.params.hp) {
      const innerEnvelope = readEnvelopeHeaders(current);
      envelope = mergeEnvelope(envelope, innerEnvelope);
      if (innerEnvelope.from) ctx.fromAddress = normalizeAddress(innerEnvelope.from.address);
    }
  }

  // Every signature in the report says whether it binds the sender (`valid` only when its signer
  // is the From address): those of outer layers as judged against the From known when they were
  // checked, the one covering the content against the From the report shows.
  for (const l of layers) if (l.kind === 'signed') l.signatures.forEach(bindToFrom);
  const signature = coveringSignature(layers);
  if (signature !== NO_SIGNATURE) judgeSender(signature, ctx.fromAddress);
  const content = withheld
    ? { text: '', html: null, attachments: [] }
    : prefetched
      ? unwrap(await prefetched)
      : await extractContent(withHeaders(current, limits), limits);
  return {
    protocol,
    encrypted,
    layers,
    signature,
    from: envelope.from ? envelope.from.address : '',
    to: envelope.to.map((m) => m.address),
    cc: envelope.cc.map((m) => m.address),
    subject: envelope.subject,
    date: envelope.date,
    messageId: envelope.messageId,
    text: content.text,
    html: content.html,
    attachments: content.attachments,
  };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects (so a discarded one raises no unhandled rejection). */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function unwrap<T>(s: Settled<T>): T {
  if (s.ok) return s.value;
  throw s.error;
}

/** Signed or encrypted bare text without MIME headers (RFC 4134's samples, some old tools). */
function withHeaders(bytes: Uint8Array, limits: Limits): Uint8Array {
  const head = parseHeaderBlock(bytes, limits.maxHeaderBytes);
  return !head.complete && head.fields.length === 0 ? textEntity(bytes) : bytes;
}

/**
 * Is this entity plain content, with no further secure layer for the peel loop to open? Never
 * throws: what cannot be read here is read (and reported) by the loop, after the verification.
 */
function isFinalContent(bytes: Uint8Array, limits: Limits): boolean {
  try {
    return isFinal(bytes, limits);
  } catch {
    return false;
  }
}

function isFinal(bytes: Uint8Array, limits: Limits): boolean {
  const entity = parseEntity(bytes, limits);
  const shape = shapeOf(entity);
  if (shape === 'text')
    return entity.body.length < 16 * 1024 * 1024 && leadingArmor(decodeBody(entity)) === null;
  return shape === 'content';
}

interface InlineResult {
  next: Uint8Array;
  encrypted: boolean;
  withheld: boolean;
}

/** Inline OpenPGP: an armored (or binary) message or a cleartext-signed text. */
async function openInline(
  data: Uint8Array,
  ctx: OpenContext,
  addLayer: (l: Layer) => void,
): Promise<InlineResult> {
  const pgp = await import('./openpgp/index.ts');
  const head = latin1(data, 0, Math.min(data.length, 64));
  if (head.startsWith(PGP_SIGNED)) {
    const { content, layer } = await pgp.openOpenPgpSigned(data, ctx);
    addLayer(layer);
    const invalid = signatureOf(layer).status === 'invalid';
    return { next: textEntity(content), encrypted: false, withheld: invalid };
  }
  let result;
  try {
    result = await pgp.decryptOpenPgp(data, ctx);
  } catch (e) {
    if (e instanceof SealpostError && e.details.notEncrypted === true) {
      // `gpg --sign --armor`: a signed, not encrypted, OpenPGP message.
      const { content, layer } = await pgp.openOpenPgpSigned(data, ctx);
      addLayer(layer);
      return { next: asEntity(content), encrypted: false, withheld: signatureOf(layer).status === 'invalid' };
    }
    throw e;
  }
  addLayer(result.layer);
  if (result.signed) {
    addLayer(result.signed);
    if (signatureOf(result.signed).status === 'invalid')
      return { next: result.content, encrypted: true, withheld: true };
  }
  return { next: asEntity(result.content), encrypted: true, withheld: false };
}

/**
 * Inline plaintext is text, unless it is itself armor (signed-then-encrypted) or a MIME entity
 * (some clients encrypt a whole MIME body inline).
 */
function asEntity(content: Uint8Array): Uint8Array {
  const armor = leadingArmor(content);
  if (armor) return textEntity(content.subarray(armor.start, armor.end), 'us-ascii');
  const head = latin1(content, 0, Math.min(content.length, 512)).toLowerCase();
  if (/^content-type:\s*[a-z]+\/[a-z0-9.+-]+/.test(head)) return content;
  return textEntity(content);
}

function signatureOf(layer: SignedLayer): SignatureReport {
  return bestSignature(layer.signatures);
}

function bestSignature(signatures: SignatureReport[]): SignatureReport {
  const rank = {
    valid: 0,
    'signer-mismatch': 1,
    untrusted: 2,
    'unknown-signer': 3,
    invalid: 4,
    none: 5,
  } as const;
  // A layer counts as invalid if any signature on it is invalid: tampering is never hidden by a
  // second, good signature.
  const invalid = signatures.find((s) => s.status === 'invalid');
  if (invalid) return invalid;
  return [...signatures].sort((a, b) => rank[a.status] - rank[b.status])[0] ?? NO_SIGNATURE;
}

/** The signature covering the content shown: the innermost signed layer's. */
function coveringSignature(layers: Layer[]): SignatureReport {
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    if (l.kind === 'signed') return signatureOf(l);
  }
  return NO_SIGNATURE;
}

const FROM_MISMATCH = 'is not the sender named in the From header';
const NO_FROM = 'names no sender address (From)';

/**
 * Whether the signer is the sender shown. Signature reports are made against the From address known
 * when the signature was checked; a message/rfc822 wrapper under it (RFC 8551 §3.1) may replace that
 * From, so the verdict is made again here against the From the report shows, from all of the signer's
 * addresses (the certificate's, or the key's certified user IDs).
 */
function judgeSender(signature: SignatureReport, from: string | null): void {
  // A From with only a display name has no address: the same as none.
  from = from !== null && from.trim() !== '' ? from : null;
  const addresses = signature.certificate
    ? signature.certificate.emailAddresses.map(normalizeAddress)
    : signature.openpgpKey
      ? signature.openpgpKey.userIds.map(emailOfUserId).filter((e): e is string => e !== null)
      : signature.signer
        ? [normalizeAddress(signature.signer)]
        : [];
  const matches = from !== null && addresses.includes(from);
  if (matches) signature.signer = from;
  signature.fromMatches = signature.signer === null ? null : matches;
  signature.problems = signature.problems.filter((p) => !p.includes(FROM_MISMATCH) && !p.includes(NO_FROM));
  if (signature.fromMatches === false)
    signature.problems.push(
      from === null
        ? `The message ${NO_FROM}: the signature (by ${signature.signer}) does not vouch for any sender shown.`
        : `The signer (${signature.signer}) ${FROM_MISMATCH} (${from}).`,
    );
  bindToFrom(signature);
}

function emailOfUserId(userId: string): string | null {
  const email = /<([^<>\s]+@[^<>\s]+)>/.exec(userId)?.[1] ?? /^\s*([^\s<>]+@[^\s<>]+)\s*$/.exec(userId)?.[1];
  return email ? email.toLowerCase() : null;
}

function mergeEnvelope(outer: EnvelopeHeaders, inner: EnvelopeHeaders): EnvelopeHeaders {
  return {
    from: inner.from ?? outer.from,
    to: inner.to.length ? inner.to : outer.to,
    cc: inner.cc.length ? inner.cc : outer.cc,
    subject: inner.subject || outer.subject,
    date: inner.date ?? outer.date,
    messageId: inner.messageId ?? outer.messageId,
  };
}

export type { Entity };
