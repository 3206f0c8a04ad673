/**
 * Turns OpenPGP.js verification results into SignatureReports.
 *
 * OpenPGP.js answers "verified or not" with an error message. We need more: was the signer's key
 * there at all (`unknown-signer`), did the maths fail (`invalid`), or did the maths hold while a
 * policy refused it (weak hash, expired or revoked key: `untrusted` with the reason in `problems`)?
 * So a refused signature is checked once more at the packet level with a relaxed configuration and
 * no time checks: that second check only ever tells `invalid` from `untrusted`, never makes `valid`.
 */
import * as openpgp from 'openpgp';
import type { OpenContext } from '../context.ts';
import { emptySignature, type SignatureReport } from '../report.ts';
import type { VerificationResult } from './internals.ts';
import { emailOf, keyInfo, primaryUserId, validUserIds, type VerificationKey } from './keys.ts';
import {
  CRYPTO_FAILURE,
  WEAK_HASHES,
  errorText,
  hashName,
  hex,
  keyAlgorithmName,
  publicKeyAlgorithmName,
  relaxedConfig,
  strictConfig,
} from './lib.ts';

/** Checks that, when they fail after the maths succeeded, leave the signature mathematically good. */
const AFTER_CRYPTO =
  /creation time is in the future|Signature is expired|Insecure (message )?hash algorithm|Unknown critical|critical notation|revoked with an authorized key/i;

/** Signature packets with a version or algorithm we cannot parse: reported, never silently dropped. */
export function unparseableSignatures(packets: readonly unknown[]): number {
  let n = 0;
  for (const p of packets) {
    if (
      p instanceof openpgp.UnparseablePacket &&
      (p as { tag?: number }).tag === openpgp.enums.packet.signature
    )
      n++;
  }
  return n;
}

export async function reportSignatures(
  results: readonly VerificationResult[],
  literal: openpgp.LiteralDataPacket | null,
  detached: boolean,
  keys: readonly VerificationKey[],
  ctx: OpenContext,
  unparseable = 0,
): Promise<SignatureReport[]> {
  const reports: SignatureReport[] = [];
  for (const r of results) reports.push(await reportOne(r, literal, detached, keys, ctx));
  for (let i = 0; i < unparseable; i++) {
    reports.push(
      emptySignature('unknown-signer', [
        'A signature of a version or algorithm Sealpost cannot read was skipped: it cannot be checked.',
      ]),
    );
  }
  return reports;
}

function findKey(
  keys: readonly VerificationKey[],
  keyId: openpgp.KeyID,
): { vk: VerificationKey; signingKey: openpgp.PublicKey | openpgp.Subkey } | null {
  // The same choice as OpenPGP.js's own (first key holding the issuer key ID), so that its
  // verdict and our report speak about the same key.
  for (const vk of keys) {
    const found = vk.key.getKeys(keyId);
    if (found.length > 0) return { vk, signingKey: found[0]! };
  }
  return null;
}

async function reportOne(
  r: VerificationResult,
  literal: openpgp.LiteralDataPacket | null,
  detached: boolean,
  keys: readonly VerificationKey[],
  ctx: OpenContext,
): Promise<SignatureReport> {
  const packet: openpgp.SignaturePacket | null = await r.signature.then(
    (s) => s.packets[0] ?? null,
    () => null,
  );
  const keyIdHex = hex(r.keyID);
  const report = emptySignature('unknown-signer', []);
  if (packet) {
    report.signedAt = packet.created ? packet.created.toISOString() : null;
    report.digestAlgorithm = hashName(packet.hashAlgorithm);
    report.signatureAlgorithm = publicKeyAlgorithmName(packet.publicKeyAlgorithm);
  }

  const found = findKey(keys, r.keyID);
  if (!found) {
    report.problems.push(`The signer's key (key ID ${keyIdHex}) is not in the keyring.`);
    // Settle the library's promise; its rejection ("Could not find signing key") is expected.
    await r.verified.catch(() => undefined);
    return report;
  }
  const { vk, signingKey } = found;
  report.openpgpKey = await keyInfo(vk.key, ctx.now);
  report.signatureAlgorithm = keyAlgorithmName(signingKey.getAlgorithmInfo());
  const identity = await signerIdentity(vk.key, ctx);
  report.signer = identity.signer;
  report.fromMatches = identity.fromMatches;

  // 1. The library's verdict, with its defaults as the policy floor.
  let refusal: string | null = null;
  try {
    await r.verified;
  } catch (e) {
    refusal = errorText(e);
  }
  if (refusal !== null) {
    if (CRYPTO_FAILURE.test(refusal)) {
      report.status = 'invalid';
      report.problems.push('The signature does not match the signed content: it was altered or damaged.');
      return report;
    }
    // 2. Was the maths good? Check the packet alone, without policy or time checks.
    const maths = await mathsOnly(packet, signingKey, literal, detached);
    if (maths === 'bad') {
      report.status = 'invalid';
      report.problems.push('The signature does not match the signed content: it was altered or damaged.');
      return report;
    }
    if (maths === 'unknown') {
      report.status = 'unknown-signer';
      report.problems.push(`The signature cannot be checked: ${refusal}`);
      return report;
    }
    report.problems.push(describeRefusal(refusal, packet));
  }

  // 3. Our own policy on top of the library's.
  let downgrade = refusal !== null;
  if (packet?.hashAlgorithm != null && WEAK_HASHES.has(packet.hashAlgorithm) && refusal === null) {
    report.problems.push(`The signature uses the weak digest ${hashName(packet.hashAlgorithm)}.`);
    downgrade = true;
  }
  const keyState = await keyStateProblems(vk.key, signingKey, ctx.now);
  report.problems.push(...keyState.problems);
  downgrade ||= keyState.downgrade;

  if (!vk.trusted) {
    report.problems.push('The signer\u2019s key is known but not trusted.');
    downgrade = true;
  }
  report.status = downgrade ? 'untrusted' : 'valid';
  return report;
}

/** Is the signature mathematically correct for this key and content? (No policy, no time.) */
async function mathsOnly(
  packet: openpgp.SignaturePacket | null,
  signingKey: openpgp.PublicKey | openpgp.Subkey,
  literal: openpgp.LiteralDataPacket | null,
  detached: boolean,
): Promise<'good' | 'bad' | 'unknown'> {
  if (!packet || !literal || packet.signatureType == null) return 'unknown';
  try {
    await packet.verify(
      signingKey.keyPacket,
      packet.signatureType,
      literal,
      null as unknown as Date, // null: no creation/expiration time checks
      detached,
      relaxedConfig(),
    );
    return 'good';
  } catch (e) {
    const text = errorText(e);
    if (CRYPTO_FAILURE.test(text)) return 'bad';
    if (AFTER_CRYPTO.test(text)) return 'good';
    return 'unknown';
  }
}

function describeRefusal(refusal: string, packet: openpgp.SignaturePacket | null): string {
  if (/Insecure (message )?hash algorithm/i.test(refusal))
    return `The signature uses the weak digest ${hashName(packet?.hashAlgorithm)}: it is never accepted as valid.`;
  if (/expired/i.test(refusal))
    return `The signer\u2019s key or the signature was expired at signing time (${refusal}).`;
  if (/revoked/i.test(refusal)) return `The signer\u2019s key was revoked (${refusal}).`;
  if (/in the future/i.test(refusal)) return 'The signature claims to have been made in the future.';
  if (/newer than the signature/i.test(refusal)) return 'The signer\u2019s key is newer than the signature.';
  if (/too weak|RSA keys shorter/i.test(refusal)) return `The signer\u2019s key is too weak (${refusal}).`;
  return `The signature is not acceptable: ${refusal}`;
}

/** The key's state now: revocation (downgrades) and expiry (worth knowing; judged at signing time). */
async function keyStateProblems(
  key: openpgp.PublicKey,
  signingKey: openpgp.PublicKey | openpgp.Subkey,
  now: Date,
): Promise<{ problems: string[]; downgrade: boolean }> {
  const problems: string[] = [];
  let downgrade = false;
  const config = strictConfig();
  const check = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      const text = errorText(e);
      if (/revoked/i.test(text)) {
        problems.push(`The signer\u2019s ${what} has been revoked.`);
        downgrade = true;
      } else if (/expired/i.test(text)) {
        problems.push(
          `The signer\u2019s ${what} has expired since (the signature was made while it was valid).`,
        );
      } else {
        problems.push(`The signer\u2019s ${what} is not valid now: ${text}`);
        downgrade = true;
      }
    }
  };
  await check('key', () => key.verifyPrimaryKey(now, undefined, config));
  if (signingKey !== key && signingKey instanceof openpgp.Subkey) {
    await check('signing subkey', () => signingKey.verify(now, config));
  }
  return { problems, downgrade };
}

/**
 * The signer's address: the user ID whose e-mail is the From address if there is one (then
 * fromMatches), else the primary user ID's. Only user IDs the key itself certifies count.
 */
async function signerIdentity(
  key: openpgp.PublicKey,
  ctx: OpenContext,
): Promise<{ signer: string | null; fromMatches: boolean | null }> {
  const uids = await validUserIds(key, ctx.now);
  const emails = uids.map((u) => emailOf(u)).filter((e): e is string => e !== null);
  const from = ctx.fromAddress?.toLowerCase() ?? null;
  if (from !== null && emails.includes(from)) return { signer: from, fromMatches: true };
  const primary = await primaryUserId(key, ctx.now);
  const signer = (primary ? emailOf(primary) : null) ?? emails[0] ?? null;
  return { signer, fromMatches: from === null ? null : false };
}
