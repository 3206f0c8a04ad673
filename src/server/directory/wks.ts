/**
 * Web Key Service (draft-koch-openpgp-webkey-service, section 4): how GnuPG users publish their key
 * in their provider's Web Key Directory by mail.
 *
 *   1. `gpg-wks-client --create FPR ADDRESS` looks up the domain's submission address
 *      (`/.well-known/openpgpkey/<domain>/submission-address`) and its key (by WKD), and mails the
 *      key, encrypted to that key, to the submission address `key-submission@<domain>`.
 *   2. The relay takes that mail for a served domain (no AUTH needed: it is addressed to us) and we
 *      answer with a confirmation request to the key's address, encrypted to the submitted key, with
 *      a fresh nonce: only the holder of that mailbox and that private key can read it.
 *   3. `gpg-wks-client --receive` reads it and mails the confirmation response (the nonce) back.
 *   4. The key is published in the directory (and so in WKD): proof of the address, like a
 *      delivery link.
 *
 * The submission key of each domain is made on first use; its private half is kept sealed under
 * the sealing key. It opens submissions only: it never touches recipients' messages.
 */
import { createHash, randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import {
  createMessage,
  decrypt,
  encrypt,
  generateKey,
  readKey,
  readMessage,
  readPrivateKey,
  type PrivateKey,
  type PublicKey,
} from 'openpgp';
import PostalMime from 'postal-mime';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { randomId } from '../secrets.ts';

/** The local part of every served domain's submission address. */
export const SUBMISSION_LOCAL = 'key-submission';
/** How long a confirmation request stays answerable. */
export const PENDING_LIFETIME_MS = 7 * 86_400_000;
/** The largest WKS mail taken (a key with a few user IDs and subkeys, encrypted, in MIME). */
export const WKS_MAX_MAIL_BYTES = 256 * 1024;
/** The draft revision whose messages we write (the `Wks-Draft-Version` header). */
const DRAFT_VERSION = '3';

/** How a WKS mail leaves: into the relay's forward queue, or the built-in outbox. */
export type QueueMail = (mail: { from: string; to: string; raw: Buffer; subject: string }) => Promise<void>;

interface SubmissionKey {
  publicKey: PublicKey;
  privateKey: PrivateKey;
  armored: string;
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** `name: value` lines of a WKS message (section 4.3/4.4). */
function parseWksData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (m && !out.has(m[1]!.toLowerCase())) out.set(m[1]!.toLowerCase(), m[2]!);
  }
  return out;
}

const decodeText = (c: ArrayBuffer | Uint8Array | string): string =>
  typeof c === 'string' ? c : new TextDecoder().decode(c instanceof Uint8Array ? c : new Uint8Array(c));

/** The parts of a (decrypted) WKS entity: media type → text. A bare WKS body has no header. */
async function entityParts(text: string): Promise<{ type: string; text: string }[]> {
  if (/^type:\s*\S/i.test(text.trimStart())) return [{ type: 'application/vnd.gnupg.wks', text }];
  const parsed = await PostalMime.parse(text, { attachmentEncoding: 'arraybuffer' });
  const parts = parsed.attachments.map((a) => ({
    type: a.mimeType.toLowerCase(),
    text: decodeText(a.content),
  }));
  if (parsed.text) parts.push({ type: 'text/plain', text: parsed.text });
  return parts;
}

export class WebKeyService {
  private readonly keys = new Map<string, Promise<SubmissionKey>>();

  constructor(
    private readonly ctx: ServerContext,
    private readonly queueMail: QueueMail | null = null,
  ) {}

  submissionAddress(domain: string): string {
    return `${SUBMISSION_LOCAL}@${domain}`;
  }

  /** The served domain whose submission address this is, or null. */
  submissionDomain(address: string): string | null {
    const a = address.toLowerCase();
    const at = a.lastIndexOf('@');
    if (at < 0 || a.slice(0, at) !== SUBMISSION_LOCAL) return null;
    const domain = a.slice(at + 1);
    return this.ctx.config.wkdDomains.includes(domain) ? domain : null;
  }

  /** The domain's submission key, made and stored on first use (one per domain across nodes). */
  submissionKey(domain: string): Promise<SubmissionKey> {
    let p = this.keys.get(domain);
    if (!p) {
      p = this.loadOrCreate(domain);
      this.keys.set(domain, p);
      p.catch(() => this.keys.delete(domain));
    }
    return p;
  }

  private async loadOrCreate(domain: string): Promise<SubmissionKey> {
    const { store, sealer } = this.ctx;
    let record = await store.wks.key(domain);
    if (!record) {
      const made = await generateKey({
        type: 'ecc',
        curve: 'curve25519Legacy',
        userIDs: [{ email: this.submissionAddress(domain) }],
        format: 'object',
      });
      record = await store.wks.putKeyIfAbsent({
        domain,
        fingerprint: made.publicKey.getFingerprint().toLowerCase(),
        publicKey: made.publicKey.armor(),
        sealedPrivateKey: sealer.seal(new TextEncoder().encode(made.privateKey.armor())),
        createdAt: this.ctx.now(),
      });
      this.ctx.logger.info({ domain, fingerprint: record.fingerprint }, 'wks: submission key created');
    }
    const privateKey = await readPrivateKey({
      armoredKey: new TextDecoder().decode(sealer.open(record.sealedPrivateKey)),
    });
    return { privateKey, publicKey: privateKey.toPublic(), armored: record.publicKey };
  }

  /**
   * Takes one mail addressed to `domain`'s submission address: a key submission (answered with a
   * confirmation request) or a confirmation response (the key is published). Resolves with the
   * text of the SMTP 250 reply; a mail that is neither, or that does not check out, is refused with a
   * ServerError (bad-request → 554) so the sender's mail system tells the user.
   */
  async take(raw: Uint8Array, domain: string): Promise<string> {
    const mail = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
    const parts = mail.attachments.map((a) => ({
      type: a.mimeType.toLowerCase(),
      text: decodeText(a.content),
    }));
    if (mail.text) parts.push({ type: 'text/plain', text: mail.text });
    const encrypted = parts.find((p) => p.text.includes('-----BEGIN PGP MESSAGE-----'));
    let inner: { type: string; text: string }[];
    if (encrypted) {
      const { privateKey } = await this.submissionKey(domain);
      let plain: string;
      try {
        const out = await decrypt({
          message: await readMessage({ armoredMessage: encrypted.text }),
          decryptionKeys: privateKey,
        });
        plain = String(out.data);
      } catch {
        throw new ServerError(
          'bad-request',
          'The Web Key Service mail cannot be decrypted with this domain’s submission key.',
        );
      }
      inner = await entityParts(plain);
    } else {
      inner = parts;
    }
    const key = inner.find((p) => p.type === 'application/pgp-keys');
    if (key) return this.submission(key.text, domain);
    const wks = inner.find((p) => p.type === 'application/vnd.gnupg.wks');
    if (wks) return this.response(parseWksData(wks.text), domain);
    throw new ServerError(
      'bad-request',
      'This address takes Web Key Service mail only (a key submission or a confirmation response).',
    );
  }

  /** A key submission: one confirmation request per address of the key in this domain. */
  private async submission(armored: string, domain: string): Promise<string> {
    let key: PublicKey;
    try {
      key = await readKey({ armoredKey: armored });
    } catch {
      throw new ServerError('bad-request', 'The submitted OpenPGP key cannot be read.');
    }
    if (key.isPrivate())
      throw new ServerError('bad-request', 'That is a private key: submit the public key only.');
    const date = new Date(this.ctx.now());
    try {
      await key.verifyPrimaryKey(date);
      await key.getEncryptionKey(undefined, date);
    } catch {
      throw new ServerError(
        'bad-request',
        'The submitted key is revoked, expired, or has no usable encryption key.',
      );
    }
    const addresses: string[] = [];
    for (const u of key.users) {
      const email = u.userID?.email.toLowerCase() ?? '';
      if (!email.endsWith(`@${domain}`) || addresses.includes(email)) continue;
      try {
        await u.verify(date);
        addresses.push(email);
      } catch {
        // revoked or not self-signed: not publishable
      }
    }
    if (addresses.length === 0)
      throw new ServerError('bad-request', `The submitted key has no valid user ID at ${domain}.`);
    const fingerprint = key.getFingerprint().toLowerCase();
    for (const address of addresses.slice(0, 5)) {
      // Only this address's user ID is kept for publication (WKD serves it that way anyway).
      const copy = await readKey({ binaryKey: key.write() });
      copy.users = copy.users.filter((u) => u.userID?.email.toLowerCase() === address);
      const nonce = randomBytes(24).toString('base64url');
      const now = this.ctx.now();
      await this.ctx.store.wks.prunePending(now);
      await this.ctx.store.wks.addPending({
        id: sha256Hex(nonce),
        email: address,
        fingerprint,
        keyData: copy.armor(),
        createdAt: now,
        expiresAt: now + PENDING_LIFETIME_MS,
      });
      await this.sendConfirmationRequest(key, address, domain, fingerprint, nonce);
      this.ctx.logger.info({ domain, fingerprint }, 'wks: confirmation request sent');
    }
    return `2.0.0 Key submission received: a confirmation request was mailed to ${addresses.slice(0, 5).join(', ')}`;
  }

  /**
   * Section 4.3: the confirmation request, encrypted to the submitted key. Written the way
   * gpg-wks-server answers clients of draft version 2 and later (GnuPG 2.2's client among them): a
   * multipart/mixed mail with an explanation and an `application/vnd.gnupg.wks` part holding the
   * armored encrypted request, which the client decrypts itself (it checks that the key it decrypts
   * with is the key it submitted). Unlike gpg-wks-server we do not sign it: clients do not use the
   * signature (GnuPG logs "Verification result is not used").
   */
  private async sendConfirmationRequest(
    key: PublicKey,
    address: string,
    domain: string,
    fingerprint: string,
    nonce: string,
  ): Promise<void> {
    if (!this.queueMail) throw new Error('This Web Key Service cannot send mail.');
    const from = this.submissionAddress(domain);
    const body = `type: confirmation-request\nsender: ${from}\naddress: ${address}\nfingerprint: ${fingerprint.toUpperCase()}\nnonce: ${nonce}\n`;
    const armored = await encrypt({
      message: await createMessage({ text: body }),
      encryptionKeys: key,
      format: 'armored',
    });
    const subject = 'Confirm your key publication';
    const composer = new MailComposer({
      from,
      to: address,
      subject,
      messageId: `<${randomId(12)}@${domain}>`,
      newline: 'windows',
      headers: {
        'Wks-Draft-Version': DRAFT_VERSION,
        'WKS-Phase': 'confirm',
        'Auto-Submitted': 'auto-replied',
      },
      text:
        'This message was sent to confirm your request to publish your OpenPGP key.\n' +
        'If you did not ask for it, ignore this message: nothing is published without your answer.\n\n' +
        'Mail software that supports the Web Key Service (GnuPG, Thunderbird, Mailvelope) answers it\n' +
        'by itself; with GnuPG: gpg-wks-client --receive --send < this-message.eml\n',
      attachments: [
        {
          content: armored,
          contentType: 'application/vnd.gnupg.wks',
          contentDisposition: 'inline',
          contentTransferEncoding: '7bit',
        },
      ],
    } as ConstructorParameters<typeof MailComposer>[0]);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      composer.compile().build((err, message) => (err ? reject(err) : resolve(message)));
    });
    await this.queueMail({ from, to: address, raw, subject });
  }

  /** Section 4.4: the confirmation response; its nonce publishes the pending key. */
  private async response(fields: Map<string, string>, domain: string): Promise<string> {
    if (fields.get('type') !== 'confirmation-response')
      throw new ServerError('bad-request', 'Only a confirmation-response is expected at this address.');
    const nonce = fields.get('nonce') ?? '';
    const address = (fields.get('address') ?? '').toLowerCase();
    const now = this.ctx.now();
    const pending = nonce.length >= 16 ? await this.ctx.store.wks.takePending(sha256Hex(nonce), now) : null;
    if (!pending || pending.email !== address || !address.endsWith(`@${domain}`))
      throw new ServerError(
        'bad-request',
        'No publication request waits for that confirmation (expired or already used).',
      );
    await this.ctx.store.directory.publish({
      email: pending.email,
      kind: 'openpgp',
      data: pending.keyData,
      fingerprint: pending.fingerprint,
      deliveryId: `wks:${pending.id.slice(0, 16)}`,
      publishedAt: now,
    });
    this.ctx.logger.info({ domain, fingerprint: pending.fingerprint }, 'wks: key published');
    return `2.0.0 Key published for ${pending.email}`;
  }
}
