/**
 * Regression tests from a security review of core/smime and the peel loop: each one failed before
 * its fix. Inputs are made with openssl from the generated test PKI (test/fixtures/generated/keys),
 * or by DER surgery on what openssl made.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyring, SealpostError, importKeyFile, openMessage } from '../../../src/core/index.ts';
import { FIXTURES, ROOT, requireFixtures } from '../../helpers/paths.ts';

const fixtures = requireFixtures('S/MIME review regressions');
const K = join(FIXTURES, 'keys');
const tmp = mkdtempSync(join(tmpdir(), 'sealpost-review-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const openssl = (...args: string[]): Buffer =>
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const file = (name: string, data: string | Uint8Array): string => {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
};

/** Bob's keyring: his PKCS#12 (with the issuing CA as chain) and the test root as trust anchor. */
async function bobKeyring(): Promise<MemoryKeyring> {
  const keyring = new MemoryKeyring();
  keyring.addAll(await importKeyFile(readFileSync(join(K, 'bob.p12')), { passphrase: 'bob-pass' }));
  keyring.addAll(await importKeyFile(readFileSync(join(K, 'root.pem')), { trusted: true }));
  return keyring;
}

/** A self-signed certificate made by an attacker, fit for e-mail signing, naming `email`. */
function selfSigned(name: string, email: string): { cert: string; key: string } {
  const key = join(tmp, `${name}.key`);
  const cert = join(tmp, `${name}.pem`);
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '3650',
    '-subj',
    `/CN=${name}/emailAddress=${email}`,
    '-addext',
    'keyUsage=critical,digitalSignature',
    '-addext',
    'extendedKeyUsage=emailProtection',
    '-addext',
    `subjectAltName=email:${email}`,
  );
  return { cert, key };
}

function pemToDer(path: string): Buffer {
  return openssl('x509', '-in', path, '-outform', 'DER');
}

function derToPem(der: Uint8Array, name: string): string {
  const lines = Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return file(name, `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`);
}

describe.skipIf(!fixtures)('signature verdicts', () => {
  it('a self-signed signer is not "valid" because the bag holds a same-TBS copy of it (PKI.js leaf dedup)', async () => {
    const mallory = selfSigned('mallory', 'ceo@example.test');
    // The same certificate with one byte of its signature changed: identical tbsCertificate,
    // different DER. PKI.js's engine removes the later of two same-TBS certificates — the signer —
    // and then validates whatever certificate is last in its list instead.
    const der = pemToDer(mallory.cert);
    der[der.length - 1]! ^= 0x01;
    const twin = derToPem(der, 'mallory-twin.pem');
    const body = file('forged.txt', 'Content-Type: text/plain\n\nPlease wire the money today.\n');
    const eml = openssl(
      'cms',
      '-sign',
      '-md',
      'sha256',
      '-signer',
      mallory.cert,
      '-inkey',
      mallory.key,
      '-certfile',
      twin,
      '-in',
      body,
      '-crlfeol',
      '-from',
      'ceo@example.test',
      '-to',
      'bob@example.test',
      '-subject',
      'urgent',
    );
    const report = await openMessage(Buffer.from(crlf(eml.toString('latin1')), 'latin1'), {
      keyring: await bobKeyring(),
    });
    expect(report.signature.signer).toBe('ceo@example.test');
    expect(report.signature.status).not.toBe('valid');
    expect(report.signature.status).toBe('untrusted');
  });

  it('fromMatches follows the From shown: a signed message/rfc822 with another inner From is a mismatch', async () => {
    // RFC 8551 §3.1 header protection: the inner headers replace the outer ones. Alice signs a
    // wrapped message whose inner From is the CEO; the outer From is hers, so her certificate
    // matched it — but the report shows the CEO as the sender.
    const body = file(
      'wrapped.txt',
      'Content-Type: message/rfc822\n\nFrom: ceo@example.test\nTo: bob@example.test\nSubject: notice\nContent-Type: text/plain\n\nYou are fired.\n',
    );
    const eml = openssl(
      'cms',
      '-sign',
      '-nodetach',
      '-md',
      'sha256',
      '-signer',
      join(K, 'alice.pem'),
      '-inkey',
      join(K, 'alice.key'),
      '-certfile',
      join(K, 'inter.pem'),
      '-in',
      body,
      '-crlfeol',
      '-from',
      'alice@example.test',
      '-to',
      'bob@example.test',
      '-subject',
      'notice',
    );
    const report = await openMessage(Buffer.from(crlf(eml.toString('latin1')), 'latin1'), {
      keyring: await bobKeyring(),
    });
    expect(report.text).toContain('You are fired.');
    expect(report.from).toBe('ceo@example.test');
    expect(report.signature.status).toBe('signer-mismatch');
    expect(report.signature.signer).toBe('alice@example.test');
    expect(report.signature.fromMatches).toBe(false);
    expect(report.signature.problems.join(' ')).toContain('ceo@example.test');
  });
});

describe.skipIf(!fixtures)('multipart/signed: reading the content while the signature is checked', () => {
  const detached = (): string => readFileSync(join(FIXTURES, 'messages/smime-signed-detached.eml'), 'latin1');

  it('a signed part that cannot be read early does not leave the verification promise unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      // A signed part with an unknown transfer encoding, and a signature that is not CMS at all.
      const eml = crlf(
        [
          'From: alice@example.test',
          'To: bob@example.test',
          'Subject: x',
          'MIME-Version: 1.0',
          'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="B"',
          '',
          '--B',
          'Content-Type: text/plain',
          'Content-Transfer-Encoding: x-weird',
          '',
          'hello',
          '--B',
          'Content-Type: application/pkcs7-signature',
          'Content-Transfer-Encoding: base64',
          '',
          'MAMCAQE=',
          '--B--',
          '',
        ].join('\n'),
      );
      const outcome = await openMessage(Buffer.from(eml, 'latin1'), { keyring: new MemoryKeyring() }).then(
        (r) => r.signature.status,
        (e: unknown) => e,
      );
      // The signature's own failure is what the reader hears about: a signature part that cannot be
      // read is an invalid signature (issue 10), its content withheld.
      expect(outcome).toBe('invalid');
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('an altered signed part that cannot be read early is still reported invalid and withheld', async () => {
    const eml = detached().replace(
      'Content-Type: text/plain; charset=utf-8\r\n\r\nHello',
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: x-weird\r\n\r\nHello',
    );
    expect(eml).toContain('x-weird');
    const report = await openMessage(Buffer.from(eml, 'latin1'), { keyring: await bobKeyring() });
    expect(report.signature.status).toBe('invalid');
    expect(report.text).toBe('');
  });
});

describe('BER walker memory', () => {
  it('opaque SignedData whose content is millions of empty segments stays within a small heap', () => {
    // 3,000,000 empty OCTET STRING segments (8 MB of mail) once cost ~700 MB of heap: every segment
    // became a listed element and a view. Run in a child with a 192 MB heap: it must not die.
    const script = file(
      'segments.mts',
      `
import { MemoryKeyring, openMessage } from ${JSON.stringify(join(ROOT, 'src/core/index.ts'))};
const N = 3_000_000;
const len = (n: number): number[] => {
  if (n < 128) return [n];
  const o: number[] = [];
  for (; n > 0; n = Math.floor(n / 256)) o.unshift(n & 255);
  return [0x80 | o.length, ...o];
};
const tlv = (id: number, ...parts: Uint8Array[]): Uint8Array => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Uint8Array.of(id, ...len(body.length)), body]);
};
const segments = new Uint8Array(N * 2);
for (let i = 0; i < N; i++) segments[2 * i] = 4;
const oid = (last: number): Uint8Array => Uint8Array.of(6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, last);
const encap = tlv(0x30, oid(1), tlv(0xa0, tlv(0x24, segments)));
const sd = tlv(0x30, Uint8Array.of(2, 1, 1), tlv(0x31), encap, tlv(0x31));
const der = tlv(0x30, oid(2), tlv(0xa0, sd));
const b64 = Buffer.from(der).toString('base64').replace(/.{76}/g, '$&\\r\\n');
const mail = Buffer.from(
  'From: a@example.test\\r\\nMIME-Version: 1.0\\r\\n' +
    'Content-Type: application/pkcs7-mime; smime-type=signed-data\\r\\n' +
    'Content-Transfer-Encoding: base64\\r\\n\\r\\n' + b64 + '\\r\\n',
);
const r = await openMessage(new Uint8Array(mail), { keyring: new MemoryKeyring() });
console.log(r.signature.status);
`,
    );
    const out = execFileSync(process.execPath, ['--max-old-space-size=192', '--import', 'tsx', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    expect(out.toString().trim()).toBe('unknown-signer');
  }, 90_000);
});

describe('CompressedData limits', () => {
  const len = (n: number): number[] => {
    if (n < 128) return [n];
    const o: number[] = [];
    for (; n > 0; n = Math.floor(n / 256)) o.unshift(n & 255);
    return [0x80 | o.length, ...o];
  };
  const tlv = (id: number, ...parts: Uint8Array[]): Buffer => {
    const body = Buffer.concat(parts);
    return Buffer.concat([Uint8Array.of(id, ...len(body.length)), body]);
  };
  /** CompressedData (RFC 3274) holding `zlib` as its compressed id-data content. */
  const compressedData = (zlib: Uint8Array): Buffer =>
    tlv(
      0x30,
      Uint8Array.of(6, 11, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 16, 1, 9),
      tlv(
        0xa0,
        tlv(
          0x30,
          Uint8Array.of(2, 1, 0),
          tlv(0x30, Uint8Array.of(6, 11, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 16, 3, 8)),
          tlv(
            0x30,
            Uint8Array.of(6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 1),
            tlv(0xa0, tlv(0x04, zlib)),
          ),
        ),
      ),
    );
  const mail = (der: Uint8Array): Uint8Array =>
    Buffer.from(
      'From: a@example.test\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\n' +
        'Content-Transfer-Encoding: base64\r\n\r\n' +
        Buffer.from(der).toString('base64').replace(/.{76}/g, '$&\r\n') +
        '\r\n',
    );

  it('nesting CompressedData does not multiply the decompression ratio allowed', async () => {
    // 20 MB of text, deflated at level 1 (about 230:1), wrapped, deflated again: a message of about
    // 1 KB that inflates to 20 MB. Each layer alone stays near the ratio limit of 250 (the outer one
    // inflates to less than 1 MiB, where the ratio is not applied); together they are 20,000:1.
    const text = Buffer.concat([
      Buffer.from('Content-Type: text/plain\r\n\r\n'),
      Buffer.alloc(20 * 1024 * 1024, 0x41),
    ]);
    const inner = compressedData(deflateSync(text, { level: 1 }));
    const outer = compressedData(deflateSync(mail(inner), { level: 9 }));
    const message = mail(outer);
    expect(message.length).toBeLessThan(4096);
    const error = await openMessage(message, {
      keyring: new MemoryKeyring(),
      limits: { maxDecompressionRatio: 250 },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SealpostError);
    expect((error as SealpostError).code).toBe('limit-exceeded');
  });

  it('one CompressedData layer within the ratio still opens', async () => {
    const text = Buffer.concat([
      Buffer.from('Content-Type: text/plain\r\n\r\n'),
      Buffer.alloc(2 * 1024 * 1024, 0x41),
    ]);
    const report = await openMessage(mail(compressedData(deflateSync(text, { level: 1 }))), {
      keyring: new MemoryKeyring(),
      limits: { maxDecompressionRatio: 250 },
    });
    expect(report.text.length).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  });
});

describe.skipIf(!fixtures)('RSASSA-PSS with SHA-1 in its parameters', () => {
  it('is never valid, even when the digest algorithm says SHA-256', async () => {
    // Take openssl's PSS/SHA-256 signature and re-sign the same signed attributes with PSS/SHA-1
    // (the parameters' default), keeping digestAlgorithm SHA-256.
    const pkijs = await import('pkijs');
    const eml = readFileSync(join(FIXTURES, 'messages/smime-signed-pss.eml'), 'latin1');
    const b64 = eml.slice(eml.indexOf('\r\n\r\n') + 4);
    const info = pkijs.ContentInfo.fromBER(Buffer.from(b64, 'base64'));
    const sd = new pkijs.SignedData({ schema: info.content });
    const si = sd.signerInfos[0]!;
    const attrs = new Uint8Array(si.signedAttrs!.toSchema().toBER(false));
    attrs[0] = 0x31;
    const pem = readFileSync(join(K, 'alice.key'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, '');
    const key = await crypto.subtle.importKey(
      'pkcs8',
      Buffer.from(pem, 'base64'),
      { name: 'RSA-PSS', hash: 'SHA-1' },
      false,
      ['sign'],
    );
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'RSA-PSS', saltLength: 20 }, key, attrs));
    const asn1js = await import('asn1js');
    si.signatureAlgorithm = new pkijs.AlgorithmIdentifier({
      algorithmId: '1.2.840.113549.1.1.10',
      algorithmParams: new asn1js.Sequence({ value: [] }), // all defaults: SHA-1, MGF1-SHA-1, salt 20
    });
    si.signature = new asn1js.OctetString({ valueHex: sig });
    const out = new pkijs.ContentInfo({
      contentType: pkijs.ContentInfo.SIGNED_DATA,
      content: sd.toSchema(true),
    });
    const der = Buffer.from(out.toSchema().toBER(false));
    const head = eml.slice(0, eml.indexOf('\r\n\r\n') + 4);
    const message = head + der.toString('base64').replace(/.{64}/g, '$&\r\n') + '\r\n';
    const keyring = new MemoryKeyring(
      await importKeyFile(readFileSync(join(K, 'root.pem')), { trusted: true }),
    );
    const opened = await openMessage(new Uint8Array(Buffer.from(message, 'latin1')), { keyring });
    expect(opened.signature.signatureAlgorithm).toBe('RSASSA-PSS');
    expect(opened.signature.status, opened.signature.problems.join('; ')).toBe('untrusted');
    expect(opened.signature.problems.join(' ')).toMatch(/SHA-1/);
  });
});
