/**
 * The SMTP relay: senders point their mail client's outgoing server at Sealpost. It takes mail from
 * authenticated senders (AUTH PLAIN/LOGIN: the sender's e-mail address and API key, after STARTTLS)
 * and from clients in `--smtp-trusted-networks`, and refuses everyone else (530/550: never an open
 * relay). Each message is classified from its headers and the start of its body (core's classifier,
 * as the HTTP API does): encrypted mail — and signed-only mail with `--divert-signed` — is diverted
 * into web delivery for every RCPT TO through the submission service (same storage, states and
 * notifications as the API); all other mail is queued durably and forwarded unchanged to
 * `--smtp-upstream`. 250 is answered only once the message is durably stored or queued; a failure
 * answers 451 and the client retries.
 */
import type { Socket } from 'node:net';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import { classifyMessage, readEnvelopeHeaders } from '../../core/index.ts';
import { clientBucket } from '../client-bucket.ts';
import type { ServerContext } from '../context.ts';
import { WebKeyService, WKS_MAX_MAIL_BYTES, type QueueMail } from '../directory/wks.ts';
import { escapeHtml } from '../http/pages.ts';
import { sealedMailbox } from '../notify/sealed-mailbox.ts';
import { hashToken, randomId } from '../secrets.ts';
import { asStoreFault } from '../store/faults.ts';
import type { SenderRecord } from '../store/port.ts';
import { countPerMinute, countSubmission } from '../submit/sender-limit.ts';
import { HEAD_BYTES, SubmissionService, normalizeEmail } from '../submit/service.ts';
import { ChunkReader } from './reader.ts';
import { reply, SmtpReply, toSmtpReply } from './replies.ts';
import type { TlsMaterial } from './tls.ts';
import { receivedHeader } from './trace.ts';

export interface RelayOptions {
  tls: TlsMaterial;
  /** Host name in the greeting and EHLO reply. */
  hostname: string;
  /** A forward was queued (wakes the forward worker). */
  onQueued: () => void;
}

/** What smtp-server's connection object offers that its type declarations leave out. */
interface Connection {
  id: string;
  session: SMTPServerSession;
  send(code: number, data: string | string[], context?: string | false): void;
  close(): void;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server derives enhanced status codes from a fixed per-reply-code table (550 → 5.1.1). Our
 * replies carry the right one in their text; this sends those as they are.
 */
class RelaySmtpServer extends SMTPServer {
  /** Set by RelayServer: offer AUTH on a plaintext session (--smtp-allow-insecure-auth). */
  insecureAuth = false;
  override connect(socket: Socket, options: unknown): void {
    (SMTPServer.prototype as unknown as { connect(s: Socket, o: unknown): void }).connect.call(
      this,
      socket,
      options,
    );
    let last: Connection | undefined;
    for (const c of this.connections as Set<Connection>) last = c;
    if (!last) return;
    const send = last.send.bind(last);
    const conn = last as Connection & { secure?: boolean };
    last.send = (code, data, context) => {
      // smtp-server offers AUTH in the EHLO reply of a plaintext session too (and refuses it only
      // after the client sent its credentials in clear): offer it only once TLS is on.
      if (code === 250 && Array.isArray(data) && !conn.secure && !this.insecureAuth)
        data = data.filter((line, i) => i === 0 || !/^AUTH\b/i.test(line));
      return typeof data === 'string' && ENHANCED.test(data)
        ? send(code, data, false)
        : send(code, data, context);
    };
  }
}

const AUTH_IP_WINDOW_MS = 15 * 60_000;
const AUTH_ACCOUNT_WINDOW_MS = 60 * 60_000;

/** Failures per key in a fixed window (bounded map; the oldest keys go first). */
class FailureWindow {
  private readonly map = new Map<string, { count: number; since: number }>();
  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}
  count(key: string, now: number): number {
    const e = this.map.get(key);
    return e && e.since > now - this.windowMs ? e.count : 0;
  }
  note(key: string, now: number): void {
    const e = this.map.get(key);
    if (e && e.since > now - this.windowMs) {
      e.count++;
      return;
    }
    this.map.delete(key);
    if (this.map.size >= this.maxKeys) {
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(key, { count: 1, since: now });
  }
}

export class RelayServer {
  private readonly server: RelaySmtpServer;
  private readonly service: SubmissionService;
  /** Authenticated sender per session id. */
  private readonly senders = new Map<string, SenderRecord>();
  /** Open connections per client address (an IPv6 client per /64: client-bucket.ts). */
  private readonly perIp = new Map<string, number>();
  private readonly counted = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly wks: WebKeyService;
  /** Failed logins per client address (an IPv6 client per /64) and per account; this node's memory. */
  private readonly authFailures = {
    ip: new FailureWindow(AUTH_IP_WINDOW_MS),
    account: new FailureWindow(AUTH_ACCOUNT_WINDOW_MS),
  };

  constructor(
    private readonly ctx: ServerContext,
    private readonly options: RelayOptions,
  ) {
    this.service = new SubmissionService(ctx);
    this.wks = new WebKeyService(ctx, this.queueMail);
    const c = ctx.config;
    this.server = new RelaySmtpServer({
      name: options.hostname,
      banner: 'Sealpost relay',
      key: options.tls.key,
      cert: options.tls.cert,
      size: c.maxMessageSize,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      allowInsecureAuth: c.smtpAllowInsecureAuth,
      hideENHANCEDSTATUSCODES: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSize: false,
      disabledCommands: [],
      maxClients: c.smtpMaxConnections,
      socketTimeout: c.smtpCommandTimeoutMs,
      closeTimeout: Math.min(30_000, c.shutdownTimeoutMs),
      logger: false,
      onConnect: (session, cb) => this.onConnect(session, cb),
      onClose: (session) => this.onClose(session),
      onAuth: (auth, session, cb) =>
        void this.onAuth(auth, session).then(
          (r) => cb(null, r),
          (e: unknown) => cb(asStoreFault(e) ? reply.authUnavailable() : toSmtpReply(e)),
        ),
      onMailFrom: (address, session, cb) =>
        void this.onMailFrom(address, session).then(
          () => cb(),
          (e: unknown) => cb(toSmtpReply(e)),
        ),
      onRcptTo: (address, session, cb) => {
        try {
          this.onRcptTo(address, session);
          cb();
        } catch (e) {
          cb(toSmtpReply(e));
        }
      },
      onData: (stream, session, cb) => this.onData(stream, session, cb),
    });
    this.server.insecureAuth = c.smtpAllowInsecureAuth;
    // A client that resets its connection, a TLS handshake that fails: log, never crash.
    this.server.on('error', (err: NodeJS.ErrnoException) =>
      this.ctx.logger.debug({ err: { code: err.code, message: err.message } }, 'smtp connection error'),
    );
  }

  /** Starts listening; resolves with the port. */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.server.off('error', onError);
        resolve();
      });
    });
    const a = this.server.server.address();
    return typeof a === 'object' && a ? a.port : port;
  }

  /** Stops accepting, lets messages being stored finish, closes the connections. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.allSettled([...this.inflight]);
  }

  private trusted(session: SMTPServerSession): boolean {
    return this.ctx.config.smtpTrustedNetworks.contains(session.remoteAddress);
  }

  private onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const ip = clientBucket(session.remoteAddress);
    const n = (this.perIp.get(ip) ?? 0) + 1;
    if (n > this.ctx.config.smtpMaxConnectionsPerIp) {
      this.ctx.logger.warn(
        { client: session.remoteAddress, bucket: ip },
        'smtp: too many connections from one address',
      );
      return cb(reply.tooManyConnections());
    }
    this.perIp.set(ip, n);
    this.counted.add(session.id);
    cb();
  }

  private onClose(session: SMTPServerSession): void {
    this.senders.delete(session.id);
    if (!this.counted.delete(session.id)) return;
    const ip = clientBucket(session.remoteAddress);
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  private async onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
  ): Promise<SMTPServerAuthenticationResponse> {
    const email = normalizeEmail(auth.username ?? '');
    const key = auth.password ?? '';
    const now = this.ctx.now();
    const ip = clientBucket(session.remoteAddress);
    const { config, logger } = this.ctx;
    // Past either limit the answer is the same whatever the key: guessing gets nothing more.
    if (
      this.authFailures.ip.count(ip, now) >= config.smtpAuthIpLimit ||
      (email && this.authFailures.account.count(email, now) >= config.smtpAuthAccountLimit)
    ) {
      logger.warn({ client: session.remoteAddress }, 'smtp: too many failed logins');
      throw reply.tooManyLogins();
    }
    const sender =
      email && key.length > 0 && key.length <= 256
        ? await this.ctx.store.senders.findByApiKeyHash(hashToken(key))
        : null;
    if (!sender || sender.email !== email) {
      this.authFailures.ip.note(ip, now);
      if (email) this.authFailures.account.note(email, now);
      logger.warn({ client: session.remoteAddress, method: auth.method }, 'smtp: authentication failed');
      throw reply.badCredentials();
    }
    this.senders.set(session.id, sender);
    this.ctx.logger.info({ client: session.remoteAddress, sender: sender.id }, 'smtp: authenticated');
    return { user: sender.id };
  }

  /**
   * Mail the server itself sends through the relay's outbound path (Web Key Service confirmation
   * requests): the forward queue to --smtp-upstream, or the built-in outbox without one (its text is
   * then the whole raw mail, so it can be handed to a WKS client by hand).
   */
  private readonly queueMail: QueueMail = async ({ from, to, raw, subject }) => {
    const { store, config } = this.ctx;
    const now = this.ctx.now();
    const id = randomId(16);
    if (!config.smtpUpstream) {
      const text = raw.toString('utf8');
      await sealedMailbox(store.localMail, this.ctx.sealer).add({
        id,
        to,
        subject,
        text,
        html: `<pre>${escapeHtml(text)}</pre>`,
        createdAt: now,
      });
      return;
    }
    const writer = await store.bodies.createWriter();
    try {
      await writer.write(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
      const staged = await writer.finish();
      await store.forwards.enqueue(
        {
          id,
          mailFrom: from,
          recipients: [to],
          size: staged.size,
          sha256: staged.sha256,
          senderId: null,
          createdAt: now,
          expiresAt: now + config.smtpQueueLifetimeMs,
        },
        staged,
      );
    } catch (e) {
      await writer.abort();
      throw e;
    }
    this.options.onQueued();
  };

  /** Is this session's envelope addressed to a Web Key Service submission address? */
  private wksDomain(session: SMTPServerSession): string | null {
    const first = session.envelope.rcptTo[0];
    return first ? this.wks.submissionDomain(first.address) : null;
  }

  private async onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const sender = this.senders.get(session.id);
    // Without AUTH only mail to a served domain's WKS submission address is taken (judged at RCPT):
    // it is addressed to this server, so taking it is no relaying.
    const wksOpen = this.ctx.config.wkdDomains.length > 0 && address.address !== '';
    if (!sender && !this.trusted(session) && !wksOpen) throw reply.authRequired();
    if (address.address === '') {
      // The null sender (a bounce) only from trusted networks: a sender's client never sends one.
      if (!this.trusted(session)) throw reply.badAddress('sender');
      return;
    }
    const from = normalizeEmail(address.address);
    if (!from) throw reply.badAddress('sender');
    if (sender && from !== sender.email) throw reply.senderMismatch(sender.email);
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): void {
    const wks = this.wks.submissionDomain(address.address);
    if (wks || this.wksDomain(session)) {
      // A key submission or confirmation travels alone: one recipient, the submission address.
      if (session.envelope.rcptTo.length > 0) throw reply.wksAlone();
      return;
    }
    if (!this.senders.has(session.id) && !this.trusted(session)) throw reply.relayDenied();
    if (!normalizeEmail(address.address)) throw reply.badAddress('recipient');
    if (session.envelope.rcptTo.length >= this.ctx.config.maxRecipients)
      throw reply.tooManyRecipients(this.ctx.config.maxRecipients);
  }

  private onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    cb: (err?: Error | null, message?: string) => void,
  ): void {
    const reader = new ChunkReader(stream);
    let answered = false;
    const answer = (err: Error | null, message?: string): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      cb(err, message);
    };
    const timer = setTimeout(() => {
      const r = reply.dataTimeout();
      reader.fail(r);
      this.ctx.logger.warn({ client: session.remoteAddress }, 'smtp: message transfer timed out');
      const conn = [...(this.server.connections as Set<Connection>)].find((c) => c.id === session.id);
      if (conn) {
        conn.send(r.responseCode, r.message);
        conn.close();
      }
    }, this.ctx.config.smtpDataTimeoutMs);
    const work = this.take(reader, session).then(
      (message) => answer(null, message),
      (e: unknown) => {
        const r = toSmtpReply(e);
        if ((r.responseCode === 451 || r.responseCode === 452) && !(e instanceof SmtpReply))
          this.ctx.logger.error({ err: e, client: session.remoteAddress }, 'smtp: message not stored');
        answer(r);
      },
    );
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  /** Reads, classifies and stores one message; resolves with the 250 text. */
  private async take(reader: ChunkReader, session: SMTPServerSession): Promise<string> {
    const { config, store, logger, metrics } = this.ctx;
    const max = config.maxMessageSize;
    const envelope = session.envelope;
    const mailFrom = envelope.mailFrom ? envelope.mailFrom.address.toLowerCase() : '';
    const recipients = [
      ...new Set(envelope.rcptTo.map((r) => normalizeEmail(r.address)).filter((a): a is string => !!a)),
    ];
    let size = 0;
    let oversize = false;
    const wksDomain = this.wksDomain(session);
    try {
      // 0. Web Key Service mail: read whole (small), answered by the WKS.
      if (wksDomain) {
        const bucket = `wks:${clientBucket(session.remoteAddress)}`;
        const chunks: Buffer[] = [];
        for (;;) {
          const chunk = await reader.next();
          if (chunk === null) break;
          size += chunk.length;
          if (size > WKS_MAX_MAIL_BYTES) {
            oversize = true;
            throw reply.tooLarge(WKS_MAX_MAIL_BYTES);
          }
          chunks.push(chunk);
        }
        await countPerMinute(this.ctx, bucket);
        const answer = await this.wks.take(new Uint8Array(Buffer.concat(chunks)), wksDomain);
        logger.info({ client: session.remoteAddress, domain: wksDomain }, 'smtp: web key service mail taken');
        return answer;
      }
      // 1. The start of the message, enough for the classifier.
      const head: Buffer[] = [];
      let headLength = 0;
      while (headLength < HEAD_BYTES) {
        const chunk = await reader.next();
        if (chunk === null) break;
        size += chunk.length;
        if (size > max) {
          oversize = true;
          throw reply.tooLarge(max);
        }
        head.push(chunk);
        headLength += chunk.length;
      }
      const start = Buffer.concat(head);
      head.length = 0;
      const rest = async function* (): AsyncGenerator<Uint8Array> {
        if (start.length > 0) yield start;
        for (;;) {
          const chunk = await reader.next();
          if (chunk === null) return;
          size += chunk.length;
          if (size > max) {
            oversize = true;
            throw reply.tooLarge(max);
          }
          yield chunk;
        }
      };
      const c = classifyMessage(new Uint8Array(start.buffer, start.byteOffset, start.byteLength));
      const divert = c.encrypted || (c.signed && config.divertSigned);

      // 2a. Secure: into web delivery, exactly as the API does it.
      if (divert) {
        const sender = this.senders.get(session.id) ?? (await store.senders.findByEmail(mailFrom));
        if (!sender) throw reply.notSender(mailFrom || '<>');
        await countSubmission(this.ctx, sender.id);
        const result = await this.service.submit({
          sender,
          body: rest(),
          declaredLength: null,
          to: recipients,
          expiresInMs: null,
          receipt: null,
        });
        metrics.submissions.inc({ result: 'relay-diverted' });
        logger.info(
          {
            messageId: result.id,
            client: session.remoteAddress,
            protocol: c.protocol,
            recipients: recipients.length,
          },
          'smtp: diverted to web delivery',
        );
        return `2.6.0 Diverted to web delivery as ${result.id} (${result.deliveries.length} recipient${result.deliveries.length === 1 ? '' : 's'})`;
      }

      // 2b. Anything else: queued durably, forwarded unchanged.
      if (!config.smtpUpstream) throw reply.noUpstream();
      const sender = this.senders.get(session.id) ?? null;
      // The header From of what we forward must be the authenticated sender too, like the envelope
      // (--smtp-from-check on): otherwise a sender could mail as anyone under our server's name.
      if (sender && config.smtpFromCheck) {
        const from = readEnvelopeHeaders(
          new Uint8Array(start.buffer, start.byteOffset, start.byteLength),
        ).from;
        const address = from ? normalizeEmail(from.address) : null;
        if (address !== sender.email) throw reply.headerFromMismatch(sender.email);
      }
      if (sender) await countSubmission(this.ctx, sender.id);
      await this.ctx.disk.assertRoom();
      const writer = await store.bodies.createWriter();
      try {
        const now = this.ctx.now();
        const id = randomId(16);
        // The trace field a relay adds (RFC 5321 §4.4); the message follows it byte for byte.
        const trace = receivedHeader(session, { hostname: this.options.hostname, id, recipients, now });
        await writer.write(new TextEncoder().encode(trace));
        for await (const chunk of rest()) await writer.write(chunk);
        const staged = await writer.finish();
        await store.forwards.enqueue(
          {
            id,
            mailFrom,
            recipients,
            size: staged.size,
            sha256: staged.sha256,
            senderId: sender?.id ?? null,
            createdAt: now,
            expiresAt: now + config.smtpQueueLifetimeMs,
          },
          staged,
        );
        logger.info(
          {
            forwardId: id,
            client: session.remoteAddress,
            size: staged.size,
            protocol: c.protocol,
            recipients: recipients.length,
          },
          'smtp: queued for forwarding',
        );
        this.options.onQueued();
        return `2.0.0 Queued as ${id} for forwarding`;
      } catch (e) {
        await writer.abort().catch(() => undefined);
        throw e;
      }
    } catch (e) {
      // The reply goes out once the client has sent the whole message: read the rest, keep nothing.
      await reader.drain();
      if (oversize) {
        metrics.submissions.inc({ result: 'relay-too-large' });
        logger.info({ client: session.remoteAddress, limit: max }, 'smtp: message too large');
      }
      throw e;
    }
  }
}
