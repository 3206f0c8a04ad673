/**
 * The relay's STARTTLS certificate: the operator's (`--tls-cert/--tls-key`), or a self-signed one made
 * at first start and kept in the data folder (`smtp-tls.key`, 0600, and `smtp-tls.crt`), so clients
 * that pin it on first use see the same one after a restart. The key pair comes from node:crypto
 * (RSA 2048, native and fast); node-forge only writes the X.509 certificate around it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  /** 'configured' (--tls-cert/--tls-key) or 'self-signed' (made here). */
  source: 'configured' | 'self-signed';
}

export const SELF_SIGNED_KEY = 'smtp-tls.key';
export const SELF_SIGNED_CERT = 'smtp-tls.crt';

/** A self-signed certificate for `hostname`, valid for ten years. */
export function makeSelfSigned(hostname: string, now = new Date()): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pubPem);
  // A positive serial number: 16 random bytes with the top bit cleared.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 86_400_000);
  const attrs = [{ name: 'commonName', value: hostname }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const isIp = /^[\d.]+$|:/.test(hostname);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [isIp ? { type: 7, ip: hostname } : { type: 2, value: hostname }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}

/** Reads the configured pair, or the data folder's self-signed one (made now when absent). */
export async function loadRelayTls(options: {
  dataDir: string;
  certFile: string | null;
  keyFile: string | null;
  hostname: string;
}): Promise<TlsMaterial> {
  if (options.certFile && options.keyFile)
    return {
      cert: await readFile(options.certFile),
      key: await readFile(options.keyFile),
      source: 'configured',
    };
  const keyPath = join(options.dataDir, SELF_SIGNED_KEY);
  const certPath = join(options.dataDir, SELF_SIGNED_CERT);
  try {
    return { key: await readFile(keyPath), cert: await readFile(certPath), source: 'self-signed' };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const made = makeSelfSigned(options.hostname);
  // Certificate first, key last: the key's presence marks a complete pair.
  await writeFile(`${certPath}.tmp`, made.cert, { mode: 0o644 });
  await rename(`${certPath}.tmp`, certPath);
  await writeFile(`${keyPath}.tmp`, made.key, { mode: 0o600 });
  await rename(`${keyPath}.tmp`, keyPath);
  return { key: Buffer.from(made.key), cert: Buffer.from(made.cert), source: 'self-signed' };
}
