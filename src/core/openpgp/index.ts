/**
 * OpenPGP entry points used by core/open.ts and the keyring import/export (OpenPGP.js 6).
 * CONTRACT — implemented in this folder; see the doc comment of each function.
 */
import type { OpenContext } from '../context.ts';
import type { KeyEntry, OpenPgpPrivateEntry } from '../keyring.ts';
import type { EncryptedLayer, SignedLayer } from '../report.ts';
import { unsupported } from '../errors.ts';

/**
 * Decrypts an OpenPGP message (armored or binary) with ctx.keyring's secret keys or ctx.password.
 * If the message also carries signatures (combined sign+encrypt), they are verified and returned as
 * `signed`. No plaintext is returned before the integrity check passed.
 */
export async function decryptOpenPgp(
  _data: Uint8Array,
  _ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer; signed: SignedLayer | null }> {
  throw unsupported('OpenPGP', 'OpenPGP support is not built yet.');
}

/** Verifies a detached signature (PGP/MIME multipart/signed) over `content` (canonical CRLF bytes). */
export async function verifyOpenPgpDetached(
  _content: Uint8Array,
  _signature: Uint8Array,
  _ctx: OpenContext,
): Promise<SignedLayer> {
  throw unsupported('OpenPGP', 'OpenPGP support is not built yet.');
}

/**
 * Opens a signed, non-encrypted OpenPGP message: a cleartext-signed text or an inline signed message
 * (armored or binary). Returns the signed content and the report.
 */
export async function openOpenPgpSigned(
  _data: Uint8Array,
  _ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  throw unsupported('OpenPGP', 'OpenPGP support is not built yet.');
}

/** Imports armored or binary OpenPGP keys; secret keys are unlocked with `passphrase`. */
export async function importOpenPgpKeys(
  _data: Uint8Array,
  _passphrase: string | undefined,
  _trusted: boolean,
): Promise<KeyEntry[]> {
  throw unsupported('OpenPGP', 'OpenPGP support is not built yet.');
}

/** Exports a secret key, armored, encrypted under `passphrase`. */
export async function exportOpenPgpKey(_entry: OpenPgpPrivateEntry, _passphrase: string): Promise<string> {
  throw unsupported('OpenPGP', 'OpenPGP support is not built yet.');
}
