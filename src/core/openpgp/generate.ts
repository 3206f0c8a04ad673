/**
 * A new OpenPGP key pair for the recipient: v4 Ed25519/Curve25519 (RFC 4880bis "legacy" curves), the
 * most widely readable ECC shape today (GnuPG 2.2 reads it, v6 keys it does not).
 */
import * as openpgp from 'openpgp';
import type { OpenPgpPrivateEntry, OpenPgpPublicEntry } from '../keyring.ts';

export async function generateOpenPgpIdentity(
  name: string,
  email: string,
): Promise<[OpenPgpPrivateEntry, OpenPgpPublicEntry]> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name, email }],
    format: 'object',
  });
  const fingerprint = privateKey.getFingerprint();
  const label = name ? `${name} <${email}>` : email;
  return [
    { type: 'openpgp-private', id: fingerprint, label, armored: privateKey.armor() },
    { type: 'openpgp-public', id: fingerprint, label, armored: publicKey.armor(), trusted: true },
  ];
}
