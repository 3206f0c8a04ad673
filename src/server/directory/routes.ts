/**
 * The directory of published certificates and OpenPGP public keys. A recipient publishes a key for
 * their own address by proving they received a delivery to it: the delivery id and its link secret
 * (the same header as pickup). Anyone may look an address up (senders use it to encrypt).
 */
import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { readKey } from 'openpgp';
import { z } from 'zod';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { escapeHtml, page } from '../http/pages.ts';
import type { PickupAccess } from '../pickup/access.ts';
import type { DirectoryKind } from '../store/port.ts';
import { normalizeEmail } from '../submit/service.ts';

/** Directory lookups per client address per minute (the page, the API and the downloads each). */
export const LOOKUPS_PER_MINUTE = 30;

const PublishBody = z
  .object({
    deliveryId: z.string().min(8).max(64),
    kind: z.enum(['x509', 'openpgp']),
    data: z
      .string()
      .min(1)
      .max(64 * 1024),
  })
  .strict();

function certificateEmails(cert: X509Certificate): string[] {
  const out: string[] = [];
  for (const m of (cert.subjectAltName ?? '').matchAll(/email:([^,\s]+)/gi)) out.push(m[1]!.toLowerCase());
  for (const m of cert.subject.matchAll(/emailAddress=([^\n,]+)/gi)) out.push(m[1]!.trim().toLowerCase());
  return out;
}

/** Checks the key material and returns its fingerprint; throws bad-request with a sentence. */
export async function checkPublishable(
  kind: DirectoryKind,
  data: string,
  email: string,
): Promise<{ data: string; fingerprint: string; revoked?: true }> {
  if (/PRIVATE KEY/.test(data))
    throw new ServerError(
      'bad-request',
      'That is a private key: never upload it anywhere. Publish the public key or certificate.',
    );
  if (kind === 'x509') {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(data);
    } catch {
      throw new ServerError('bad-request', 'The certificate cannot be read (expected one PEM certificate).');
    }
    if (!certificateEmails(cert).includes(email))
      throw new ServerError('forbidden', `The certificate is not issued for ${email}.`);
    return {
      data: `${cert.toString().trim()}\n`,
      fingerprint: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    };
  }
  let key;
  try {
    key = await readKey({ armoredKey: data });
  } catch {
    throw new ServerError(
      'bad-request',
      'The OpenPGP key cannot be read (expected one ASCII-armored public key).',
    );
  }
  if (key.isPrivate())
    throw new ServerError(
      'bad-request',
      'That is a private key: never upload it anywhere. Publish the public key.',
    );
  const fingerprint = key.getFingerprint().toLowerCase();
  // A revoked key is accepted only to withdraw the same key (the route removes it).
  if (await key.isRevoked()) return { data: key.armor(), fingerprint, revoked: true };
  try {
    await key.verifyPrimaryKey();
  } catch (e) {
    throw new ServerError(
      'bad-request',
      `The OpenPGP key is not usable: ${(e as Error).message.slice(0, 120)}`,
    );
  }
  const emails = key
    .getUserIDs()
    .map((u) => /<([^>]+)>/.exec(u)?.[1] ?? u)
    .map((u) => u.trim().toLowerCase());
  if (!emails.includes(email))
    throw new ServerError('forbidden', `The OpenPGP key has no user ID for ${email}.`);
  return { data: key.armor(), fingerprint };
}

export async function directoryRoutes(
  app: FastifyInstance,
  opts: { ctx: ServerContext; access: PickupAccess },
): Promise<void> {
  const { ctx, access } = opts;

  // Lookups take one exact address, and are rate-limited per client beyond the global limit: the
  // directory answers "what is published for this address", never "which addresses exist".
  const lookupLimit = { rateLimit: { max: LOOKUPS_PER_MINUTE, timeWindow: 60_000 } };

  app.get('/api/v1/directory/:email', { config: lookupLimit }, async (request) => {
    const email = normalizeEmail((request.params as { email: string }).email);
    if (!email) throw new ServerError('bad-request', 'That is not an e-mail address.');
    const entries = await ctx.store.directory.lookup(email);
    if (entries.length === 0) throw new ServerError('not-found', `Nothing is published for ${email}.`);
    return {
      email,
      entries: entries.map((e) => ({
        kind: e.kind,
        data: e.data,
        fingerprint: e.fingerprint,
        publishedAt: new Date(e.publishedAt).toISOString(),
      })),
    };
  });

  /** Downloads for senders: the OpenPGP key as `.asc`, the certificate as DER `.cer`. */
  app.get('/api/v1/directory/:email/:file', { config: lookupLimit }, async (request, reply) => {
    const p = request.params as { email: string; file: string };
    const email = normalizeEmail(p.email);
    if (!email) throw new ServerError('bad-request', 'That is not an e-mail address.');
    const kind = p.file === 'openpgp.asc' ? 'openpgp' : p.file === 'x509.cer' ? 'x509' : null;
    if (!kind) throw new ServerError('not-found', 'The files are openpgp.asc and x509.cer.');
    const entry = (await ctx.store.directory.lookup(email)).find((e) => e.kind === kind);
    if (!entry)
      throw new ServerError(
        'not-found',
        `No ${kind === 'x509' ? 'certificate' : 'OpenPGP key'} is published for ${email}.`,
      );
    const name = `${email.replace(/[^a-z0-9.@_-]/g, '_')}.${kind === 'x509' ? 'cer' : 'asc'}`;
    reply.header('content-disposition', `attachment; filename="${name}"`);
    if (kind === 'openpgp') return reply.type('application/pgp-keys').send(entry.data);
    return reply.type('application/pkix-cert').send(new X509Certificate(entry.data).raw);
  });

  /** The search page: one exact address in, its published keys out (no listing, no wildcards). */
  app.get('/directory', { config: lookupLimit }, async (request, reply) => {
    const q = (request.query as { email?: unknown }).email;
    const asked = typeof q === 'string' ? q.slice(0, 254) : '';
    let result = '';
    if (asked.trim() !== '') {
      const email = normalizeEmail(asked);
      if (!email) result = '<p role="alert">That is not an e-mail address.</p>';
      else {
        const entries = await ctx.store.directory.lookup(email);
        const e = encodeURIComponent(email);
        result =
          entries.length === 0
            ? `<p role="status">Nothing is published for ${escapeHtml(email)}.</p>`
            : `<h2>${escapeHtml(email)}</h2><ul class="directory">${entries
                .map(
                  (x) =>
                    `<li>${x.kind === 'x509' ? 'S/MIME certificate' : 'OpenPGP key'} · fingerprint <code>${escapeHtml(
                      x.fingerprint,
                    )}</code> · published ${escapeHtml(new Date(x.publishedAt).toISOString().slice(0, 10))} · <a href="/api/v1/directory/${e}/${
                      x.kind === 'x509' ? 'x509.cer' : 'openpgp.asc'
                    }" download>Download ${x.kind === 'x509' ? '.cer' : '.asc'}</a></li>`,
                )
                .join(
                  '',
                )}</ul><p>Compare the fingerprint with one the recipient tells you another way before you rely on it.</p>`;
      }
    }
    const body = `<h1>Find a recipient's key</h1>
<p>Enter the exact address to get the certificate or OpenPGP key its owner published here, to encrypt to them.</p>
<form method="get" action="/directory"><label>E-mail address <input type="email" name="email" required value="${escapeHtml(asked)}" autocomplete="off"></label> <button type="submit">Look up</button></form>
${result}`;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title: 'Find a key', brandName: ctx.config.brandName, body }));
  });

  app.post('/api/v1/directory', { bodyLimit: 128 * 1024 }, async (request, reply) => {
    const parsed = PublishBody.safeParse(request.body);
    if (!parsed.success)
      throw new ServerError(
        'bad-request',
        'Publish takes {"deliveryId", "kind": "x509"|"openpgp", "data"} as JSON.',
      );
    const found = await access.authorize(request, parsed.data.deliveryId);
    const email = found.delivery.recipient;
    const checked = await checkPublishable(parsed.data.kind, parsed.data.data, email);
    const now = ctx.now();
    if (checked.revoked) {
      // Publishing the revoked form of the published key withdraws it (from lookups and WKD).
      const current = (await ctx.store.directory.lookup(email)).find((e) => e.kind === 'openpgp');
      if (current?.fingerprint !== checked.fingerprint)
        throw new ServerError('bad-request', 'That key is revoked: there is nothing to publish.');
      await ctx.store.directory.remove(email, 'openpgp');
      await ctx.store.deliveries.addEvent(
        found.delivery.id,
        'key-withdrawn',
        `openpgp ${checked.fingerprint}`,
        now,
      );
      ctx.logger.info({ deliveryId: found.delivery.id, fingerprint: checked.fingerprint }, 'key withdrawn');
      return reply
        .code(200)
        .send({ email, kind: 'openpgp', fingerprint: checked.fingerprint, withdrawn: true });
    }
    await ctx.store.directory.publish({
      email,
      kind: parsed.data.kind,
      data: checked.data,
      fingerprint: checked.fingerprint,
      deliveryId: found.delivery.id,
      publishedAt: now,
    });
    await ctx.store.deliveries.addEvent(
      found.delivery.id,
      'key-published',
      `${parsed.data.kind} ${checked.fingerprint}`,
      now,
    );
    ctx.logger.info(
      { deliveryId: found.delivery.id, kind: parsed.data.kind, fingerprint: checked.fingerprint },
      'key published',
    );
    return reply.code(201).send({
      email,
      kind: parsed.data.kind,
      fingerprint: checked.fingerprint,
      publishedAt: new Date(now).toISOString(),
    });
  });
}
