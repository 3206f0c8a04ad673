/**
 * Shared by the modern/post-quantum S/MIME tests: the vector folders, an OpenContext, key files
 * read into keyrings, S/MIME wrapping of bare CMS, and tampering at a named place of a CMS object.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  MemoryKeyring,
  SealpostError,
  importKeyFile,
  resolveLimits,
  type KeyEntry,
  type OpenContext,
} from '../../../src/core/index.ts';
import {
  CONTEXT,
  T,
  UNIVERSAL,
  children,
  expect as expectTlv,
  is,
  readTlv,
  type Tlv,
} from '../../../src/core/smime/ber.ts';
import { VECTORS } from '../../helpers/paths.ts';

export const PQC = join(VECTORS, 'pqc-cms');
export const EXAMPLES = join(VECTORS, 'examples-cms');
export const RFC9216 = join(VECTORS, 'rfc9216');

export const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
export const files = (dir: string, re: RegExp): string[] =>
  readdirSync(dir)
    .filter((f) => re.test(f))
    .sort();

export function ctxFor(keyring: MemoryKeyring, extra: Partial<OpenContext> = {}): OpenContext {
  return { keyring, limits: resolveLimits(), now: new Date(), fromAddress: null, ...extra };
}

/** A keyring with these key files (paths), each trusted or not. */
export async function keyringOf(
  items: { path: string; trusted?: boolean; passphrase?: string }[],
): Promise<MemoryKeyring> {
  const k = new MemoryKeyring();
  for (const i of items)
    k.addAll(
      await importKeyFile(read(i.path), {
        trusted: i.trusted ?? false,
        ...(i.passphrase !== undefined ? { passphrase: i.passphrase } : {}),
      }),
    );
  return k;
}

export async function entriesOf(path: string, trusted = false): Promise<KeyEntry[]> {
  return importKeyFile(read(path), { trusted });
}

export async function expectCode(p: Promise<unknown>, code: string): Promise<SealpostError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SealpostError);
    expect((e as SealpostError).code, (e as Error).message).toBe(code);
    return e as SealpostError;
  }
  throw new Error(`expected a ${code} error`);
}

/** A bare CMS object as an S/MIME message (application/pkcs7-mime, base64). */
export function wrapSmime(
  der: Uint8Array,
  opts: { from?: string; to?: string; subject?: string; smimeType?: string } = {},
): Uint8Array {
  const b64 = Buffer.from(der).toString('base64').replace(/.{76}/g, '$&\r\n');
  return new Uint8Array(
    Buffer.from(
      `From: ${opts.from ?? 'sender@example.org'}\r\nTo: ${opts.to ?? 'bob@example.net'}\r\n` +
        `Subject: ${opts.subject ?? 'modern S/MIME'}\r\nMIME-Version: 1.0\r\n` +
        `Content-Type: application/pkcs7-mime; smime-type=${opts.smimeType ?? 'enveloped-data'}; name=smime.p7m\r\n` +
        `Content-Disposition: attachment; filename=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`,
    ),
  );
}

/** Inverts one byte (a copy). */
export function flipAt(der: Uint8Array, offset: number): Uint8Array {
  const out = der.slice();
  out[offset] = out[offset]! ^ 0xff;
  return out;
}

/** The fields of the SignedData / EnvelopedData / AuthEnvelopedData inside a ContentInfo. */
export function cmsFields(der: Uint8Array): Tlv[] {
  const [, wrapped] = children(der, readTlv(der, 0));
  const body = children(der, expectTlv(wrapped, CONTEXT, 0, 'content'))[0]!;
  return children(der, body);
}

/** Offsets of interesting bytes in a SignedData: the last byte of each signature, of each certificate. */
export function signedDataPlaces(der: Uint8Array): { signatures: number[]; certificates: Tlv[] } {
  const f = cmsFields(der);
  let k = 3;
  const certificates: Tlv[] = [];
  if (is(f[k], CONTEXT, 0)) {
    certificates.push(...children(der, f[k]!));
    k++;
  }
  if (is(f[k], CONTEXT, 1)) k++;
  const signatures = children(der, f[k]!).map((si) => {
    const sf = children(der, si);
    const sig = sf.find((x, i) => i >= 4 && is(x, UNIVERSAL, T.OCTET_STRING))!;
    return sig.contentEnd - 1;
  });
  return { signatures, certificates };
}
