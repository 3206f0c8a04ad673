/**
 * Web Key Directory (draft-koch-openpgp-webkey-service, section 3.1) over the key directory: for
 * each domain the operator serves (`--wkd-domain`), the OpenPGP keys that recipients published with
 * proof of their address (the delivery link, or a Web Key Service confirmation) can be found by any
 * mail client that looks keys up by WKD (GnuPG's `--auto-key-locate wkd`, Thunderbird, K-9, …).
 *
 *   Advanced: https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>
 *   Direct:   https://<domain>/.well-known/openpgpkey/hu/<hash>?l=<local>   (domain from Host)
 *
 * Answers are the binary transferable public key reduced to the one user ID of the address looked
 * up (other addresses of the key are not disclosed), with `Access-Control-Allow-Origin: *` so that
 * web clients (our receiver among them) can fetch them. A key that is revoked or expired is not
 * served; publishing a newer key replaces the old one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readKey } from 'openpgp';
import { wkdHash } from '../../core/index.ts';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import type { DirectoryEntry } from '../store/port.ts';
import { SUBMISSION_LOCAL, WebKeyService } from './wks.ts';

const HASH = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}$/;

/**
 * The key of `entry` as WKD serves it: binary, only the user ID of `email`, or null when the key is
 * revoked, expired, or has no valid self-signed user ID for the address at `date`.
 */
export async function wkdKey(entry: DirectoryEntry, email: string, date: Date): Promise<Uint8Array | null> {
  try {
    const key = await readKey({ armoredKey: entry.data });
    await key.verifyPrimaryKey(date); // throws when revoked or expired
    const copy = await readKey({ binaryKey: key.write() });
    const users = [];
    for (const u of copy.users) {
      if (u.userID?.email.toLowerCase() !== email) continue;
      try {
        await u.verify(date); // a valid, unrevoked self-certification
        users.push(u);
      } catch {
        // this user ID is revoked or has no valid self-signature: not served
      }
    }
    if (users.length === 0) return null;
    copy.users = users;
    return copy.write();
  } catch {
    return null;
  }
}

/** The policy file (section 4.5): the draft revision we follow and the submission address. */
const policyFile = (domain: string) =>
  '# Web Key Directory of Sealpost: keys published with proof of the address.\n' +
  `protocol-version: 18\nsubmission-address: ${SUBMISSION_LOCAL}@${domain}\n`;

export async function wkdRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const wks = new WebKeyService(ctx);
  const submissionHash = wkdHash(SUBMISSION_LOCAL);
  const served = (domain: string): string | null => {
    const d = domain.toLowerCase();
    return ctx.config.wkdDomains.includes(d) ? d : null;
  };
  /** The domain of a direct-method request: the host it was asked of (X-Forwarded-Host with --trust-proxy). */
  const hostDomain = (request: FastifyRequest): string => request.hostname.replace(/:\d+$/, '');

  const cors = (reply: FastifyReply): FastifyReply =>
    reply
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('cache-control', 'no-cache');

  const notFound = (reply: FastifyReply, why: string) => {
    cors(reply);
    throw new ServerError('not-found', why);
  };

  const key = async (request: FastifyRequest, reply: FastifyReply, domainIn: string, hash: string) => {
    const domain = served(domainIn);
    if (!domain) return notFound(reply, 'This server keeps no Web Key Directory for that domain.');
    if (!HASH.test(hash)) return notFound(reply, 'That is not a WKD hash.');
    if (hash === submissionHash) {
      // The Web Key Service's own key: clients encrypt their submissions to it.
      const k = await wks.submissionKey(domain);
      return cors(reply).type('application/octet-stream').send(Buffer.from(k.publicKey.write()));
    }
    const l = (request.query as { l?: unknown }).l;
    let candidates: DirectoryEntry[];
    if (typeof l === 'string' && l !== '' && wkdHash(l) === hash) {
      candidates = await ctx.store.directory.lookup(`${l.toLowerCase()}@${domain}`);
    } else {
      // Without a usable `l` parameter (the draft makes it optional), find the hash among the
      // domain's published keys.
      candidates = (await ctx.store.directory.listDomain(domain, 'openpgp')).filter(
        (e) => wkdHash(e.email.slice(0, e.email.lastIndexOf('@'))) === hash,
      );
    }
    const date = new Date(ctx.now());
    for (const entry of candidates) {
      if (entry.kind !== 'openpgp') continue;
      const body = await wkdKey(entry, entry.email, date);
      if (body) return cors(reply).type('application/octet-stream').send(Buffer.from(body));
    }
    return notFound(reply, 'No key is published for that address.');
  };

  const policy = (reply: FastifyReply, domainIn: string) => {
    if (!served(domainIn)) return notFound(reply, 'This server keeps no Web Key Directory for that domain.');
    return cors(reply)
      .type('text/plain; charset=utf-8')
      .send(policyFile(served(domainIn)!));
  };
  const submissionAddress = (reply: FastifyReply, domainIn: string) => {
    const domain = served(domainIn);
    if (!domain) return notFound(reply, 'This server keeps no Web Key Directory for that domain.');
    return cors(reply)
      .type('text/plain; charset=utf-8')
      .send(`${wks.submissionAddress(domain)}\n`);
  };

  app.get('/.well-known/openpgpkey/:domain/hu/:hash', async (request, reply) => {
    const p = request.params as { domain: string; hash: string };
    return key(request, reply, p.domain, p.hash);
  });
  app.get('/.well-known/openpgpkey/hu/:hash', async (request, reply) =>
    key(request, reply, hostDomain(request), (request.params as { hash: string }).hash),
  );
  app.get('/.well-known/openpgpkey/:domain/policy', async (request, reply) =>
    policy(reply, (request.params as { domain: string }).domain),
  );
  app.get('/.well-known/openpgpkey/policy', async (request, reply) => policy(reply, hostDomain(request)));
  app.get('/.well-known/openpgpkey/:domain/submission-address', async (request, reply) =>
    submissionAddress(reply, (request.params as { domain: string }).domain),
  );
  app.get('/.well-known/openpgpkey/submission-address', async (request, reply) =>
    submissionAddress(reply, hostDomain(request)),
  );
}
