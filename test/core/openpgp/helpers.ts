/**
 * Test-local helpers for the OpenPGP tests: a small .eml splitter (the real one is core/mime; these
 * tests exercise core/openpgp alone), keyrings and contexts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MemoryKeyring, SealpostError, resolveLimits } from '../../../src/core/index.ts';
import type { OpenContext } from '../../../src/core/context.ts';
import type { Limits } from '../../../src/core/limits.ts';
import { importOpenPgpKeys } from '../../../src/core/openpgp/index.ts';

export const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
export const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

export interface Eml {
  headers: string;
  body: Uint8Array;
  from: string | null;
  contentType: string;
  boundary: string | null;
}

/** Splits a message (or a MIME part) into its header block and body, byte-exactly. */
export function parseEml(data: Uint8Array): Eml {
  const s = latin1(data);
  let cut = s.indexOf('\r\n\r\n');
  let sep = 4;
  if (cut < 0 || (s.indexOf('\n\n') >= 0 && s.indexOf('\n\n') < cut)) {
    cut = s.indexOf('\n\n');
    sep = 2;
  }
  const headers = cut < 0 ? s : s.slice(0, cut);
  const body = cut < 0 ? new Uint8Array(0) : data.subarray(cut + sep);
  const unfolded = headers.replace(/\r?\n[ \t]+/g, ' ');
  const header = (name: string): string | null =>
    new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded)?.[1]?.trim() ?? null;
  const ct = header('Content-Type') ?? 'text/plain';
  const from = header('From');
  const address = from ? (/<([^>]+)>/.exec(from)?.[1] ?? from).trim().toLowerCase() : null;
  return {
    headers,
    body,
    from: address,
    contentType: ct.split(';')[0]!.trim().toLowerCase(),
    boundary: /boundary="?([^";]+)"?/i.exec(ct)?.[1] ?? null,
  };
}

/** The parts of a multipart body, each exactly the bytes between its delimiter lines (RFC 2046). */
export function splitParts(body: Uint8Array, boundary: string): Uint8Array[] {
  const s = latin1(body);
  const delimiter = `--${boundary}`;
  const positions: number[] = [];
  let i = s.startsWith(delimiter) ? 0 : s.indexOf(`\n${delimiter}`);
  while (i >= 0) {
    const at = s[i] === '\n' ? i + 1 : i;
    positions.push(at);
    i = s.indexOf(`\n${delimiter}`, at + delimiter.length);
  }
  const parts: Uint8Array[] = [];
  for (let k = 0; k + 1 < positions.length; k++) {
    const start = s.indexOf('\n', positions[k]!) + 1;
    let end = positions[k + 1]! - 1; // the \n before the next delimiter
    if (s[end - 1] === '\r') end--;
    parts.push(body.subarray(start, end));
  }
  return parts;
}

/** The armored block (BEGIN … END) in some text, as bytes. */
export function armorBlock(data: Uint8Array): Uint8Array {
  const s = latin1(data);
  const start = s.indexOf('-----BEGIN PGP ');
  const endMatch = /-----END PGP [A-Z ]+-----/.exec(s.slice(start));
  if (start < 0 || !endMatch) throw new Error('no armor block');
  return data.subarray(start, start + endMatch.index + endMatch[0].length);
}

export async function keyringOf(
  keys: { path: string; passphrase?: string; trusted?: boolean }[],
): Promise<MemoryKeyring> {
  const keyring = new MemoryKeyring();
  for (const k of keys)
    keyring.addAll(await importOpenPgpKeys(read(k.path), k.passphrase, k.trusted ?? false));
  return keyring;
}

export function context(
  keyring: MemoryKeyring,
  fromAddress: string | null,
  extra: { password?: string; limits?: Partial<Limits>; now?: Date } = {},
): OpenContext {
  return {
    keyring,
    limits: resolveLimits(extra.limits),
    now: extra.now ?? new Date(),
    fromAddress,
    ...(extra.password !== undefined ? { password: extra.password } : {}),
  };
}

/** Runs `fn` and returns the SealpostError it throws (fails the test on success or another error). */
export async function sealpostError(fn: () => Promise<unknown>): Promise<SealpostError> {
  try {
    await fn();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(SealpostError);
    return e as SealpostError;
  }
  throw new Error('expected a SealpostError, but it succeeded');
}

export const corpusKey = (dir: string, name: string): string => join(dir, 'keys', name);
