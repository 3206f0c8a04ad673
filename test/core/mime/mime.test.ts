import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, SealpostError, resolveLimits } from '../../../src/core/index.ts';
import { extractContent, safeFilename } from '../../../src/core/mime/content.ts';
import {
  checkStructure,
  decodeBody,
  decodeQuotedPrintable,
  parseEntity,
  splitMultipart,
  toCrlf,
} from '../../../src/core/mime/entity.ts';
import { parseStructured } from '../../../src/core/mime/headers.ts';
import { VECTORS, requireShared } from '../../helpers/paths.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('MIME structure', () => {
  const signed = [
    'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"',
    '',
    'preamble',
    '--b1',
    'Content-Type: text/plain',
    '',
    'signed text',
    '',
    '--b1',
    'Content-Type: application/pkcs7-signature',
    '',
    'SIG',
    '--b1--',
    'epilogue',
  ];

  it('splits parts byte-exactly, leaving the line break before a delimiter out (CRLF and LF)', () => {
    for (const nl of ['\r\n', '\n']) {
      const e = parseEntity(enc(signed.join(nl)), DEFAULT_LIMITS);
      const { parts, closed } = splitMultipart(e, DEFAULT_LIMITS);
      expect(closed).toBe(true);
      expect(parts.map(dec)).toEqual([
        `Content-Type: text/plain${nl}${nl}signed text${nl}`,
        `Content-Type: application/pkcs7-signature${nl}${nl}SIG`,
      ]);
    }
  });

  it('does not mistake a longer boundary or a mid-line boundary for a delimiter', () => {
    const msg = [
      'Content-Type: multipart/mixed; boundary=ab',
      '',
      '--ab',
      '',
      'x --ab y',
      '--abc',
      '--ab--',
    ].join('\r\n');
    const { parts } = splitMultipart(parseEntity(enc(msg), DEFAULT_LIMITS), DEFAULT_LIMITS);
    expect(parts.map(dec)).toEqual(['\r\nx --ab y\r\n--abc']);
  });

  it('keeps a cut-off last part and says it was not closed', () => {
    const msg = ['Content-Type: multipart/mixed; boundary=q', '', '--q', '', 'one', '--q', '', 'tw'].join(
      '\r\n',
    );
    const { parts, closed } = splitMultipart(parseEntity(enc(msg), DEFAULT_LIMITS), DEFAULT_LIMITS);
    expect(closed).toBe(false);
    expect(parts.map(dec)).toEqual(['\r\none', '\r\ntw']);
  });

  it('decodes quoted-printable with soft breaks, CRLF or LF', () => {
    expect(dec(decodeQuotedPrintable(enc('caf=C3=A9 =\r\nna=\nive=3D')))).toBe('café naive=');
  });

  it('reads RFC 2231 continuations and charsets, and RFC 2045 quoting', () => {
    const v = parseStructured(
      `attachment; filename*0*=utf-8''%E2%82%AC%20rates; filename*1=" 2026.pdf"; x="a\\"b"; (comment) size=3`,
    );
    expect(v.value).toBe('attachment');
    expect(v.params.filename).toBe('€ rates 2026.pdf');
    expect(v.params.x).toBe('a"b');
  });

  it('canonicalizes bare LF to CRLF and leaves CRLF alone', () => {
    expect(dec(toCrlf(enc('a\nb\r\nc\n')))).toBe('a\r\nb\r\nc\r\n');
    const crlf = enc('a\r\nb\r\n');
    expect(toCrlf(crlf)).toBe(crlf);
  });

  it('enforces depth and part limits while walking the structure', () => {
    let msg = 'Content-Type: text/plain\r\n\r\nleaf';
    for (let i = 0; i < 10; i++)
      msg = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${msg}\r\n--b${i}--`;
    expect(checkStructure(enc(msg), DEFAULT_LIMITS).depth).toBe(10);
    expect(() => checkStructure(enc(msg), resolveLimits({ maxMimeDepth: 5 }))).toThrow(
      expect.objectContaining({ code: 'limit-exceeded' }),
    );
    const many = ['Content-Type: multipart/mixed; boundary=m', ''];
    for (let i = 0; i < 50; i++) many.push('--m', '', `part ${i}`);
    many.push('--m--');
    expect(() => checkStructure(enc(many.join('\r\n')), resolveLimits({ maxParts: 20 }))).toThrow(
      SealpostError,
    );
  });

  it('extracts text, html only when the message has an HTML part, and attachments with RFC 2231 names', async () => {
    const msg = [
      'Content-Type: multipart/mixed; boundary=z',
      '',
      '--z',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=C3=BC=C3=9Fe',
      '--z',
      'Content-Type: application/pdf',
      "Content-Disposition: attachment; filename*=utf-8''%C3%BCber.pdf",
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAw==',
      '--z',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--z--',
    ].join('\r\n');
    const c = await extractContent(enc(msg), DEFAULT_LIMITS);
    expect(c.text.trim()).toBe('Grüße');
    expect(c.html).toBeNull();
    expect(c.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['über.pdf', 'application/pdf', 4],
      ['attachment-2.eml', 'message/rfc822', 28],
    ]);
    expect(c.attachments[0]!.sha256).toBe('054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8');
  });

  it('saves quoted-printable attachments as sent: no newline after a final soft line break or the last line', async () => {
    const withFile = (body: string, type = 'application/octet-stream'): Uint8Array =>
      enc(
        [
          'Content-Type: multipart/mixed; boundary=q',
          '',
          '--q',
          'Content-Type: text/plain',
          '',
          'see the file',
          '--q',
          `Content-Type: ${type}`,
          'Content-Disposition: attachment; filename=a.bin',
          'Content-Transfer-Encoding: quoted-printable',
          '',
          body,
          '--q--',
          '',
        ].join('\r\n'),
      );
    const cases: [string, string][] = [
      ['abc=', 'abc'],
      ['abc=\r\n', 'abc'], // the part's last line is a soft line break
      ['abc=\r\ndef=3D', 'abcdef='],
      ['abc', 'abc'],
      ['line one\r\nline two=\r\n', 'line one\r\nline two'],
    ];
    for (const [body, want] of cases)
      for (const type of ['application/octet-stream', 'text/plain']) {
        const c = await extractContent(withFile(body, type), DEFAULT_LIMITS);
        expect(dec(c.attachments[0]!.content), `${type}: ${JSON.stringify(body)}`).toBe(want);
      }
    // A large one (decoded by core, not postal-mime) keeps its bytes too.
    const big = `${'x'.repeat(70)}=\r\n`.repeat(5000) + 'end=\r\n';
    const c = await extractContent(withFile(big), DEFAULT_LIMITS);
    expect(c.attachments[0]!.size).toBe(70 * 5000 + 3);
    expect(dec(c.attachments[0]!.content).endsWith('xend')).toBe(true);
  });
});

describe.skipIf(!requireShared('MIME conformance messages (mime4j, postal-mime)'))(
  'MIME conformance vectors',
  () => {
    const mimetools = join(VECTORS, 'mime4j/core/src/test/resources/mimetools-testmsgs');
    const testmsgs = join(VECTORS, 'mime4j/core/src/test/resources/testmsgs');
    const postal = join(VECTORS, 'postal-mime/test/fixtures');
    const files = [
      ...readdirSync(mimetools)
        .filter((f) => f.endsWith('.msg'))
        .map((f) => join(mimetools, f)),
      ...readdirSync(testmsgs)
        .filter((f) => f.endsWith('.msg'))
        .map((f) => join(testmsgs, f)),
      ...readdirSync(postal)
        .filter((f) => f.endsWith('.eml'))
        .map((f) => join(postal, f)),
    ];

    it('finds the messages', () => expect(files.length).toBeGreaterThan(80));

    it('parses every message without an exception other than SealpostError', async () => {
      let parsed = 0;
      for (const f of files) {
        try {
          const c = await extractContent(new Uint8Array(readFileSync(f)), DEFAULT_LIMITS);
          expect(typeof c.text).toBe('string');
          parsed++;
        } catch (e) {
          expect(e, f).toBeInstanceOf(SealpostError);
        }
      }
      expect(parsed).toBeGreaterThan(files.length - 3);
    });

    // MIME-tools' expected decodings of binary parts: our splitter and transfer decoding must agree
    // byte for byte. (multi-frag has a deliberately broken terminating boundary; decoders differ there.)
    it('decodes binary parts exactly as MIME-tools expects', () => {
      const knownDifferent = new Set(['multi-frag_decoded_1_3_2.bin']);
      let compared = 0;
      for (const f of readdirSync(mimetools).filter((x) => x.endsWith('.msg'))) {
        const base = f.slice(0, -4);
        const raw = new Uint8Array(readFileSync(join(mimetools, f)));
        for (const d of readdirSync(mimetools).filter(
          (x) => x.startsWith(`${base}_decoded_`) && x.endsWith('.bin'),
        )) {
          if (knownDifferent.has(d)) continue;
          const path = d
            .slice(base.length + 9, -4)
            .split('_')
            .map(Number)
            .slice(1);
          let e = parseEntity(raw, DEFAULT_LIMITS);
          let resolved = true;
          for (const idx of path) {
            if (e.contentType.value === 'message/rfc822') e = parseEntity(e.body, DEFAULT_LIMITS);
            const p = e.contentType.value.startsWith('multipart/')
              ? splitMultipart(e, DEFAULT_LIMITS).parts[idx - 1]
              : undefined;
            if (!p) {
              resolved = false;
              break;
            }
            e = parseEntity(p, DEFAULT_LIMITS);
          }
          if (!resolved) continue;
          expect(Buffer.from(decodeBody(e)).equals(readFileSync(join(mimetools, d))), d).toBe(true);
          compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(25);
    });
  },
);

describe('safeFilename', () => {
  it('keeps the name, drops folders, control and bidirectional-override characters', () => {
    expect(safeFilename('Résumé.pdf', 'application/pdf', 1)).toBe('Résumé.pdf');
    expect(safeFilename('../../etc/passwd', 'text/plain', 1)).toBe('passwd');
    expect(safeFilename('C:\\Users\\x\\a.txt', 'text/plain', 1)).toBe('a.txt');
    // "invoice\u202Efdp.exe" shows as "invoiceexe.pdf" in a right-to-left-aware view.
    expect(safeFilename('invoice\u202efdp.exe', 'application/octet-stream', 1)).toBe('invoicefdp.exe');
    expect(safeFilename('a\u2066b\u2069\u200f.txt\u0000', 'text/plain', 1)).toBe('ab.txt');
    expect(safeFilename('...', 'application/pdf', 3)).toBe('attachment-3.pdf');
  });
});
