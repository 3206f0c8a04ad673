/**
 * SignedData verification (RFC 5652 §5): detached (multipart/signed) and opaque, every SignerInfo,
 * with path validation by PKI.js against the keyring's trust anchors.
 */
import * as pkijs from 'pkijs';
import { bufferSource, concatBytes, equalBytes, latin1, toArrayBuffer } from '../bytes.ts';
import type { OpenContext } from '../context.ts';
import { SealpostError, limitExceeded } from '../errors.ts';
import { entriesOfType } from '../keyring.ts';
import { emptySignature, type CertificateInfo, type SignatureReport, type SignedLayer } from '../report.ts';
import {
  CONTEXT,
  T,
  UNIVERSAL,
  algorithm,
  children,
  content,
  derLength,
  expect,
  is,
  octets,
  oid,
  raw,
  readTlv,
  retag,
  type Tlv,
} from './ber.ts';
import {
  certificateEmails,
  describeParsed,
  extendedKeyUsage,
  keyUsage,
  parseCertificate,
  publicKeyDescription,
  type ParsedCertificate,
} from './certs.ts';
import { certIds, describeCmsId, matches, readCmsId, type CertIds } from './ids.ts';
import { md5 } from './legacy.ts';
import { ModernCryptoEngine, isModernSignature, nobleDigest, verifyModern } from './modern-signatures.ts';
import { CURVES, DIGESTS, OID, SIGNATURE_ALGORITHMS, algorithmName, signatureAlgorithmName } from './oids.ts';
import { verifyDsa, verifyRsaPkcs1Raw } from './verify-legacy.ts';

export interface Candidate {
  p: ParsedCertificate;
  ids: CertIds;
}

export async function verifySigned(
  der: Uint8Array,
  detached: Uint8Array | null,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: SignedLayer }> {
  const top = readTlv(der, 0);
  const [typeTlv, wrapped] = children(der, expect(top, UNIVERSAL, T.SEQUENCE, 'ContentInfo'));
  if (oid(der, expect(typeTlv, UNIVERSAL, T.OID, 'content type')) !== OID.signedData)
    throw new SealpostError('malformed', 'The signature is not CMS SignedData.');
  const sd = children(der, expect(wrapped, CONTEXT, 0, 'content'))[0];
  const fields = children(der, expect(sd, UNIVERSAL, T.SEQUENCE, 'SignedData'));
  const encap = children(der, expect(fields[2], UNIVERSAL, T.SEQUENCE, 'encapContentInfo'));
  const eContentType = oid(der, encap[0]!);
  let embedded: Uint8Array | null = null;
  if (is(encap[1], CONTEXT, 0)) {
    const inner = children(der, encap[1])[0];
    embedded = octets(der, expect(inner, UNIVERSAL, T.OCTET_STRING, 'eContent'));
  }
  const signedContent = detached ?? embedded;
  const signerSet = fields.find((f, i) => i >= 3 && is(f, UNIVERSAL, T.SET));
  if (!signedContent && signerSet && signerSet.contentEnd === signerSet.contentStart)
    throw new SealpostError(
      'unsupported',
      'This S/MIME message only carries certificates (certs-only): there is no message to show. Import it as a certificate file instead.',
      { algorithm: 'certs-only SignedData' },
    );
  if (!signedContent)
    throw new SealpostError('malformed', 'The signature carries no content and none was given with it.');
  if (signedContent.length > ctx.limits.maxTotalBytes)
    throw limitExceeded('total size', ctx.limits.maxTotalBytes);

  let k = 3;
  const messageCerts: Candidate[] = [];
  if (is(fields[k], CONTEXT, 0)) {
    for (const c of children(der, fields[k]!)) {
      if (!is(c, UNIVERSAL, T.SEQUENCE)) continue;
      try {
        const p = parseCertificate(raw(der, c).slice());
        messageCerts.push({ p, ids: certIds(p) });
      } catch {
        // An unreadable certificate in the bag is skipped; if it was the signer's, the signer is unknown.
      }
    }
    k++;
  }
  if (is(fields[k], CONTEXT, 1)) k++; // CRLs: not used (revocation checking is out of scope offline)
  const signerInfos = children(der, expect(fields[k], UNIVERSAL, T.SET, 'signerInfos'));

  // Start the content digests first: they run on the crypto thread pool while the caller (and the
  // certificate work below) carries on, which matters for large messages.
  const digests = new Map<string, Promise<Uint8Array | null>>();
  const contentDigest = (name: string): Promise<Uint8Array | null> => {
    let d = digests.get(name);
    if (!d) {
      d = digest(name, signedContent).catch(() => null);
      digests.set(name, d);
    }
    return d;
  };
  for (const si of signerInfos) {
    try {
      const f = children(der, si);
      const alg = algorithm(der, f[2]!);
      if (is(f[3], CONTEXT, 0)) void contentDigest(DIGESTS[alg.oid]?.name ?? alg.oid);
    } catch {
      // A malformed SignerInfo is reported by verifySignerInfo below.
    }
  }

  const keyringCerts: Candidate[] = [];
  for (const e of entriesOfType(ctx.keyring, 'certificate'))
    keyringCerts.push(...safeCandidate(e.certificate));
  for (const e of entriesOfType(ctx.keyring, 'smime-private')) {
    keyringCerts.push(...safeCandidate(e.certificate));
    for (const c of e.chain) keyringCerts.push(...safeCandidate(c));
  }
  const anchors = entriesOfType(ctx.keyring, 'certificate')
    .filter((e) => e.trusted)
    .flatMap((e) => safeCandidate(e.certificate));

  const signatures: SignatureReport[] = [];
  for (const si of signerInfos) {
    signatures.push(
      await verifySignerInfo(
        der,
        si,
        signedContent,
        contentDigest,
        eContentType,
        messageCerts,
        keyringCerts,
        anchors,
        ctx,
      ),
    );
  }
  if (signatures.length === 0)
    signatures.push(
      emptySignature('unknown-signer', ['The signature has no signer information: nobody signed it.']),
    );
  return {
    content: signedContent,
    layer: { kind: 'signed', format: detached ? 'cms-detached' : 'cms-opaque', signatures },
  };
}

export function safeCandidate(der: Uint8Array): Candidate[] {
  try {
    const p = parseCertificate(der);
    return [{ p, ids: certIds(p) }];
  } catch {
    return [];
  }
}

interface Attr {
  type: string;
  values: Tlv[];
}

function readAttributes(der: Uint8Array, set: Tlv): Attr[] {
  return children(der, set).map((a) => {
    const [t, v] = children(der, expect(a, UNIVERSAL, T.SEQUENCE, 'Attribute'));
    return { type: oid(der, t!), values: children(der, expect(v, UNIVERSAL, T.SET, 'attribute values')) };
  });
}

function readTime(der: Uint8Array, tlv: Tlv): Date | null {
  const text = latin1(content(der, tlv));
  let m: RegExpMatchArray | null;
  if (tlv.tag === T.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(text))) {
    const y = Number(m[1]);
    return new Date(
      Date.UTC(
        y < 50 ? 2000 + y : 1900 + y,
        Number(m[2]) - 1,
        Number(m[3]),
        Number(m[4]),
        Number(m[5]),
        Number(m[6] ?? 0),
      ),
    );
  }
  if (
    tlv.tag === T.GENERALIZED_TIME &&
    (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(text))
  ) {
    return new Date(
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
    );
  }
  return null;
}

async function digest(name: string, data: Uint8Array): Promise<Uint8Array | null> {
  const info = Object.values(DIGESTS).find((d) => d.name === name);
  if (info?.webcrypto) return new Uint8Array(await crypto.subtle.digest(info.webcrypto, bufferSource(data)));
  if (name === 'MD5') return md5(data);
  return nobleDigest(name, data);
}

async function verifySignerInfo(
  der: Uint8Array,
  si: Tlv,
  signedContent: Uint8Array,
  contentDigest: (name: string) => Promise<Uint8Array | null>,
  eContentType: string,
  messageCerts: Candidate[],
  keyringCerts: Candidate[],
  anchors: Candidate[],
  ctx: OpenContext,
): Promise<SignatureReport> {
  const report = emptySignature('unknown-signer', []);
  const f = children(der, expect(si, UNIVERSAL, T.SEQUENCE, 'SignerInfo'));
  const sid = readCmsId(der, f[1]!);
  const digestAlg = algorithm(der, f[2]!);
  let j = 3;
  let signedAttrs: Tlv | null = null;
  if (is(f[j], CONTEXT, 0)) signedAttrs = f[j++]!;
  const sigAlg = algorithm(der, f[j++]!);
  const signature = octets(der, expect(f[j], UNIVERSAL, T.OCTET_STRING, 'signature'));
  const digestName = DIGESTS[digestAlg.oid]?.name ?? algorithmName(digestAlg.oid);
  const sigInfo = SIGNATURE_ALGORITHMS[sigAlg.oid];
  report.digestAlgorithm = digestName;
  report.signatureAlgorithm = signatureAlgorithmName(sigAlg.oid);

  // Signed attributes: the content digest, the signing time, the content type.
  let toVerify = signedContent;
  let messageDigest: Uint8Array | null = null;
  if (signedAttrs) {
    const attrs = readAttributes(der, signedAttrs);
    const md = attrs.find((a) => a.type === OID.messageDigest);
    const ct = attrs.find((a) => a.type === OID.contentType);
    const st = attrs.find((a) => a.type === OID.signingTime);
    if (md?.values.length !== 1 || ct?.values.length !== 1) {
      report.status = 'invalid';
      report.problems.push(
        'The signature lacks its message-digest or content-type attribute (RFC 5652 §5.3).',
      );
      return report;
    }
    messageDigest = content(der, md.values[0]!);
    if (oid(der, ct.values[0]!) !== eContentType) {
      report.status = 'invalid';
      report.problems.push('The signed content type does not match the content.');
      return report;
    }
    const time = st?.values[0] ? readTime(der, st.values[0]) : null;
    if (time && !Number.isNaN(time.getTime())) report.signedAt = time.toISOString();
    toVerify = retag(der, signedAttrs, 0x31);
  }

  // The signer's certificate: from the message first, then the keyring.
  const signer = [...messageCerts, ...keyringCerts].find((c) => matches(sid, c.ids));
  if (!signer) {
    report.problems.push(
      `The signer's certificate (${describeCmsId(sid).description}) is neither in the message nor in the keyring.`,
    );
    return report;
  }
  const info = await describeParsed(signer.p);
  report.certificate = info;
  const emails = certificateEmails(signer.p.cert);
  report.signer = ctx.fromAddress && emails.includes(ctx.fromAddress) ? ctx.fromAddress : (emails[0] ?? null);
  report.fromMatches =
    report.signer === null || ctx.fromAddress === null ? null : emails.includes(ctx.fromAddress);

  // The maths: content digest, then the signature.
  if (messageDigest) {
    const d = await contentDigest(digestName);
    if (!d) {
      report.status = 'unknown-signer';
      report.problems.push(
        `The signature uses the digest ${digestName}, which Sealpost cannot compute: it cannot be checked.`,
      );
      return report;
    }
    if (!equalBytes(d, messageDigest)) {
      report.status = 'invalid';
      report.problems.push('The signature does not match the signed content: it was altered or damaged.');
      return report;
    }
  }
  // The hash the signature itself uses: named by the algorithm (sha256WithRSAEncryption), in the
  // RSASSA-PSS parameters (SHA-1 when absent), or else the digest algorithm's.
  const hashName =
    sigInfo?.kind === 'rsa-pss'
      ? (pssParams(der, sigAlg.params)?.hash ?? 'unsupported')
      : (sigInfo?.hash ?? digestName);
  const issuer =
    [...messageCerts, ...keyringCerts].find((c) => c.p.cert.subject.isEqual(signer.p.cert.issuer))?.p.cert ??
    null;
  const check = await checkSignature(signer.p, sigAlg, der, hashName, toVerify, signature, issuer);
  if (check === 'unsupported') {
    // Not checkable is not "altered": like an unreadable OpenPGP signature, the signer stays unknown.
    report.status = 'unknown-signer';
    report.problems.push(
      `The signature algorithm ${report.signatureAlgorithm} with ${hashName} is not supported: it cannot be checked.`,
    );
    return report;
  }
  if (!check) {
    report.status = 'invalid';
    report.problems.push('The signature does not match the signed content: it was altered or damaged.');
    return report;
  }

  // Policy: weak algorithms, key usage, trust.
  const problems: string[] = [];
  if (DIGESTS[digestAlg.oid]?.weak || hashName === 'SHA-1' || hashName === 'MD5')
    problems.push(
      `The signature uses the weak digest ${hashName === 'MD5' || digestName === 'MD5' ? 'MD5' : 'SHA-1'}: it is never accepted as valid.`,
    );
  const keyDesc = publicKeyDescription(signer.p.cert);
  const rsaBits = /^RSA (\d+)$/.exec(keyDesc);
  if (rsaBits && Number(rsaBits[1]) < 2048)
    problems.push(`The signer's key (${keyDesc}) is too weak to be accepted as valid.`);
  if (keyDesc.startsWith('OID') || keyDesc === 'DSA')
    problems.push(`The signer's key type (${keyDesc}) is not accepted as valid.`);
  const ku = keyUsage(signer.p.cert);
  if (ku && !ku.includes('digitalSignature') && !ku.includes('nonRepudiation'))
    problems.push('The signer\u2019s certificate is not meant for signing (key usage).');
  const eku = extendedKeyUsage(signer.p.cert);
  if (eku && !eku.includes(OID.emailProtection) && !eku.includes(OID.anyExtendedKeyUsage))
    problems.push('The signer\u2019s certificate is not meant for e-mail (extended key usage).');
  if (emails.length === 0) problems.push('The signer\u2019s certificate names no e-mail address.');

  const trust = await validatePath(
    signer,
    [...messageCerts, ...keyringCerts],
    anchors,
    report.signedAt,
    ctx.now,
  );
  report.chain = trust.chain;
  problems.push(...trust.problems);
  report.problems = problems;
  report.status = trust.trusted && problems.length === 0 ? 'valid' : 'untrusted';
  if (report.fromMatches === false)
    report.problems.push(
      `The signer (${report.signer}) is not the sender named in the From header (${ctx.fromAddress}).`,
    );
  return report;
}

async function checkSignature(
  signer: ParsedCertificate,
  sigAlg: { oid: string; params: Tlv | null },
  der: Uint8Array,
  hashName: string,
  data: Uint8Array,
  signature: Uint8Array,
  issuer: pkijs.Certificate | null,
): Promise<boolean | 'unsupported'> {
  const kind = SIGNATURE_ALGORITHMS[sigAlg.oid]?.kind;
  const spki = new Uint8Array(signer.cert.subjectPublicKeyInfo.toSchema().toBER(false));
  // EdDSA, ML-DSA, SLH-DSA: modern-signatures.ts (it answers false for any failure itself).
  if (isModernSignature(sigAlg.oid)) return verifyModern(sigAlg.oid, spki, data, signature);
  const webHash = Object.values(DIGESTS).find((d) => d.name === hashName)?.webcrypto ?? null;
  try {
    if (kind === 'rsa') {
      if (!webHash) {
        const d = await digest(hashName, data);
        return d ? verifyRsaPkcs1Raw(signer.cert, hashName, d, signature) : 'unsupported';
      }
      const key = await crypto.subtle.importKey(
        'spki',
        toArrayBuffer(spki),
        { name: 'RSASSA-PKCS1-v1_5', hash: webHash },
        false,
        ['verify'],
      );
      return await crypto.subtle.verify(
        'RSASSA-PKCS1-v1_5',
        key,
        toArrayBuffer(signature),
        bufferSource(data),
      );
    }
    if (kind === 'rsa-pss') {
      const pss = pssParams(der, sigAlg.params);
      if (!pss) return 'unsupported';
      const rsaSpki = rsaSpkiFor(signer);
      const key = await crypto.subtle.importKey(
        'spki',
        toArrayBuffer(rsaSpki),
        { name: 'RSA-PSS', hash: pss.hash },
        false,
        ['verify'],
      );
      return await crypto.subtle.verify(
        { name: 'RSA-PSS', saltLength: pss.saltLength },
        key,
        toArrayBuffer(signature),
        bufferSource(data),
      );
    }
    if (kind === 'ecdsa') {
      if (!webHash) return 'unsupported';
      const params = signer.cert.subjectPublicKeyInfo.algorithm.algorithmParams as
        { valueBlock?: { toString?: () => string } } | undefined;
      const curve = CURVES[params?.valueBlock?.toString?.() ?? ''];
      if (!curve) return 'unsupported';
      const key = await crypto.subtle.importKey(
        'spki',
        toArrayBuffer(spki),
        { name: 'ECDSA', namedCurve: curve.webcrypto },
        false,
        ['verify'],
      );
      const rawSig = ecdsaRaw(signature, curve.bytes);
      if (!rawSig) return false;
      return await crypto.subtle.verify(
        { name: 'ECDSA', hash: webHash },
        key,
        toArrayBuffer(rawSig),
        bufferSource(data),
      );
    }
    if (kind === 'dsa') {
      const d = await digest(hashName, data);
      return d ? verifyDsa(signer.cert, d, signature, issuer) : 'unsupported';
    }
  } catch {
    return false;
  }
  return 'unsupported';
}

/** RSA-PSS keys are sometimes id-RSASSA-PSS keys: WebCrypto wants an rsaEncryption SPKI either way. */
function rsaSpkiFor(signer: ParsedCertificate): Uint8Array {
  const spki = new Uint8Array(signer.cert.subjectPublicKeyInfo.toSchema().toBER(false));
  if (signer.cert.subjectPublicKeyInfo.algorithm.algorithmId === OID.rsaEncryption) return spki;
  const [, bits] = children(spki, readTlv(spki, 0));
  const alg = Uint8Array.of(
    0x30,
    0x0d,
    0x06,
    0x09,
    0x2a,
    0x86,
    0x48,
    0x86,
    0xf7,
    0x0d,
    0x01,
    0x01,
    0x01,
    0x05,
    0x00,
  );
  const body = concatBytes([alg, raw(spki, bits!)]);
  return concatBytes([Uint8Array.of(0x30), derLength(body.length), body]);
}

function pssParams(der: Uint8Array, params: Tlv | null): { hash: string; saltLength: number } | null {
  let hash = 'SHA-1';
  let saltLength = 20;
  if (params) {
    if (!params.constructed) return null;
    for (const f of children(der, params)) {
      if (is(f, CONTEXT, 0)) hash = DIGESTS[algorithm(der, children(der, f)[0]!).oid]?.webcrypto ?? '';
      else if (is(f, CONTEXT, 2)) {
        const c = content(der, children(der, f)[0]!);
        saltLength = 0;
        for (const b of c) saltLength = saltLength * 256 + b;
      }
    }
  }
  return hash ? { hash, saltLength } : null;
}

/** ECDSA-Sig-Value (DER SEQUENCE of r, s) → r || s, each padded to the curve size. */
function ecdsaRaw(sig: Uint8Array, size: number): Uint8Array | null {
  try {
    const seq = readTlv(sig, 0);
    if (seq.end !== sig.length) return null;
    const [r, s] = children(sig, seq);
    if (!r || !s || r.tag !== T.INTEGER || s.tag !== T.INTEGER) return null;
    const fix = (b: Uint8Array): Uint8Array | null => {
      let i = 0;
      while (i < b.length - 1 && b[i] === 0) i++;
      const v = b.subarray(i);
      if (v.length > size) return null;
      const out = new Uint8Array(size);
      out.set(v, size - v.length);
      return out;
    };
    const rr = fix(content(sig, r));
    const ss = fix(content(sig, s));
    return rr && ss ? concatBytes([rr, ss]) : null;
  } catch {
    return null;
  }
}

/** The tbsCertificate encoding, as PKI.js compares certificates. */
function tbsOf(cert: pkijs.Certificate): Uint8Array {
  if (cert.tbsView.byteLength === 0) cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  return cert.tbsView;
}

/** Path validation of the signer's certificate (exported for the PKITS conformance tests). */
export async function validatePath(
  signer: Candidate,
  pool: Candidate[],
  anchors: Candidate[],
  signedAt: string | null,
  now: Date,
): Promise<{ trusted: boolean; chain: CertificateInfo[]; problems: string[] }> {
  if (anchors.length === 0)
    return {
      trusted: false,
      chain: [],
      problems: ['No trusted certificate authority is configured, so the signer cannot be verified.'],
    };
  // Judge at the signing time (when it is not in the future), then now.
  const dates: Date[] = [];
  const st = signedAt ? new Date(signedAt) : null;
  if (st && st.getTime() <= now.getTime() + 5 * 60 * 1000) dates.push(st);
  dates.push(now);

  // The signer itself is a trust anchor (a directly trusted, e.g. self-signed, certificate). Compared
  // by tbsCertificate, as PKI.js does: a copy with other signature bytes is the same certificate.
  const signerTbs = tbsOf(signer.p.cert);
  const anchorTbs = anchors.map((a) => tbsOf(a.p.cert));
  if (anchorTbs.some((t) => equalBytes(t, signerTbs))) {
    const c = signer.p.cert;
    const ok = dates.some((d) => c.notBefore.value <= d && d <= c.notAfter.value);
    return {
      trusted: ok,
      chain: [await describeParsed(signer.p)],
      problems: ok
        ? []
        : ['The signer\u2019s certificate was not valid at signing time and is not valid now.'],
    };
  }
  // PKI.js's engine drops the later of two certificates with the same tbsCertificate and then takes
  // the LAST certificate of its list as the leaf. A same-TBS copy of the signer (other signature
  // bytes, hence other DER) in the message's bag would make it drop the signer and validate some
  // other certificate instead. So the pool is deduplicated here by TBS, without the signer or the
  // anchors, and the path it returns must start at the signer.
  const others: pkijs.Certificate[] = [];
  const seen: Uint8Array[] = [signerTbs, ...anchorTbs];
  for (const c of pool) {
    const t = tbsOf(c.p.cert);
    if (seen.some((s) => equalBytes(s, t))) continue;
    seen.push(t);
    others.push(c.p.cert);
  }
  let lastMessage = '';
  for (const checkDate of dates) {
    try {
      const engine = new pkijs.CertificateChainValidationEngine({
        trustedCerts: anchors.map((a) => a.p.cert),
        certs: [...others, signer.p.cert],
        checkDate,
      });
      // Our engine adds EdDSA, ML-DSA and SLH-DSA certificate signatures to PKI.js's set.
      const result = await engine.verify({}, new ModernCryptoEngine());
      const leaf = result.certificatePath?.[0];
      if (result.result && result.certificatePath && leaf && !equalBytes(tbsOf(leaf), signerTbs)) {
        lastMessage = 'the path found does not start at the signer\u2019s certificate';
        continue;
      }
      if (result.result && result.certificatePath) {
        const chain: CertificateInfo[] = [];
        const problems: string[] = [];
        for (const [i, cert] of result.certificatePath.entries()) {
          const d = new Uint8Array(cert.toSchema(true).toBER(false));
          chain.push(await describeParsed({ der: d, cert }));
          const isAnchor = i === result.certificatePath.length - 1;
          const alg = SIGNATURE_ALGORITHMS[cert.signatureAlgorithm.algorithmId];
          if (!isAnchor && (alg?.hash === 'SHA-1' || alg?.hash === 'MD5'))
            problems.push(
              `A certificate in the chain (${chain[i]!.subject}) is signed with the weak digest ${alg.hash}.`,
            );
        }
        return { trusted: true, chain, problems };
      }
      // PKI.js's own words ("No valid certificate paths found") are for developers, not people.
      lastMessage = '';
    } catch {
      lastMessage = '';
    }
  }
  return {
    trusted: false,
    chain: [],
    problems: [
      `The signer\u2019s certificate does not chain to a trusted certificate authority${lastMessage ? ` (${lastMessage})` : ''}.`,
    ],
  };
}
