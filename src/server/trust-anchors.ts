/**
 * The initial trusted-CA list handed to receivers (`--trust-anchors FILE.pem`): read and checked at
 * start, served as PEM and as JSON with a SHA-256 so the receiver can pin it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from './config.ts';

export interface TrustAnchor {
  subject: string;
  fingerprint256: string;
  notAfter: string;
  pem: string;
}

export interface TrustAnchors {
  anchors: TrustAnchor[];
  /** All anchors as one PEM text. */
  pem: string;
  /** SHA-256 (hex) of `pem`. */
  sha256: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export function parseTrustAnchors(text: string, source: string): TrustAnchors {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0)
    throw new ConfigError([
      `--trust-anchors: ${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`,
    ]);
  const anchors = blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      throw new ConfigError([`--trust-anchors: certificate #${i + 1} in ${source} cannot be read.`]);
    }
    return {
      subject: cert.subject.replace(/\n/g, ', '),
      fingerprint256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      notAfter: new Date(cert.validTo).toISOString(),
      pem: `${cert.toString().trim()}\n`,
    };
  });
  const pem = anchors.map((a) => a.pem).join('');
  return { anchors, pem, sha256: createHash('sha256').update(pem).digest('hex') };
}

export async function loadTrustAnchors(path: string | null): Promise<TrustAnchors> {
  if (!path) return { anchors: [], pem: '', sha256: createHash('sha256').update('').digest('hex') };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError([
      `--trust-anchors: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
    ]);
  }
  return parseTrustAnchors(text, path);
}
