/**
 * EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) decryption.
 *
 * Recipient kinds: key transport (RSA PKCS#1 v1.5 with implicit rejection, RSA-OAEP), key agreement
 * (ECDH P-256/384/521 with the X9.63 KDF of RFC 5753, with or without ukm; X25519/X448 with the
 * X9.63 KDF or HKDF of RFC 8418, x-agreement.ts), key encapsulation (ML-KEM in KEMRecipientInfo,
 * RFC 9629, kem-recipient.ts), a pre-shared KEK (kek-recipient.ts), and password (PWRI, RFC 3211).
 * Content: AES-CBC, AES-GCM, ChaCha20-Poly1305 (RFC 8103, chacha.ts), 3DES-CBC (read only).
 */
import { bufferSource, concatBytes, toArrayBuffer, utf8 } from '../bytes.ts';
import type { OpenContext } from '../context.ts';
import { SealpostError, limitExceeded } from '../errors.ts';
import { integrityFailure } from './failures.ts';
import { entriesOfType, type SmimePrivateEntry } from '../keyring.ts';
import type { EncryptedLayer, RecipientDescription } from '../report.ts';
import {
  CONTEXT,
  T,
  UNIVERSAL,
  algorithm,
  children,
  content,
  expect,
  is,
  octets,
  oid,
  raw,
  readTlv,
  retag,
  smallInteger,
  type Tlv,
} from './ber.ts';
import { parseCertificate } from './certs.ts';
import { decryptChaCha20Poly1305 } from './chacha.ts';
import { certIds, describeCmsId, matches, readCmsId, type CertIds, type CmsId } from './ids.ts';
import { eccCmsSharedInfo, x963Kdf } from './kdf.ts';
import { describeKekRecipient, openKekRecipient } from './kek-recipient.ts';
import { describeKemRecipient, isKemRecipient, openKemRecipient } from './kem-recipient.ts';
import { cbcDecrypt } from './legacy.ts';
import {
  CONTENT_CIPHERS,
  CURVES,
  DIGESTS,
  ECDH_SCHEMES,
  HMACS,
  KEY_WRAPS,
  OID,
  algorithmName,
} from './oids.ts';
import { rsaKeyFromPkcs8, rsaOaepDecrypt, rsaPkcs1v15DecryptImplicit } from './rsa.ts';
import { describeXAgreement, isXKey, xKeyAgreement } from './x-agreement.ts';

interface Recipient {
  index: number;
  description: RecipientDescription;
  /** Tries to recover the content-encryption key with one of our keys; null when none applies. */
  kind: 'ktri' | 'kari' | 'kemri' | 'kekri' | 'pwri' | 'other';
  tlv: Tlv;
}

interface OurKey {
  entry: SmimePrivateEntry;
  ids: CertIds;
  keyAlgorithm: string;
  curve: string | null;
}

function ourKeys(ctx: OpenContext): OurKey[] {
  const out: OurKey[] = [];
  for (const entry of entriesOfType(ctx.keyring, 'smime-private')) {
    try {
      const p = parseCertificate(entry.certificate);
      const alg = p.cert.subjectPublicKeyInfo.algorithm;
      const params = alg.algorithmParams as { valueBlock?: { toString?: () => string } } | undefined;
      out.push({
        entry,
        ids: certIds(p),
        keyAlgorithm: alg.algorithmId,
        curve: alg.algorithmId === OID.ecPublicKey ? (params?.valueBlock?.toString?.() ?? null) : null,
      });
    } catch {
      // A damaged keyring entry cannot open anything; the others still can.
    }
  }
  return out;
}

export async function decryptEnvelope(
  der: Uint8Array,
  ctx: OpenContext,
): Promise<{ content: Uint8Array; layer: EncryptedLayer }> {
  const top = readTlv(der, 0);
  const [typeTlv, wrapped] = children(der, expect(top, UNIVERSAL, T.SEQUENCE, 'ContentInfo'));
  const type = oid(der, expect(typeTlv, UNIVERSAL, T.OID, 'content type'));
  const auth = type === OID.authEnvelopedData;
  const body = children(der, expect(wrapped, CONTEXT, 0, 'content'))[0];
  const fields = children(
    der,
    expect(body, UNIVERSAL, T.SEQUENCE, auth ? 'AuthEnvelopedData' : 'EnvelopedData'),
  );
  let k = 1; // skip version
  if (is(fields[k], CONTEXT, 0)) k++; // originatorInfo
  const recipientSet = expect(fields[k++], UNIVERSAL, T.SET, 'recipientInfos');
  const eci = expect(fields[k++], UNIVERSAL, T.SEQUENCE, 'encryptedContentInfo');
  let authAttrs: Tlv | null = null;
  let mac: Uint8Array | null = null;
  if (auth) {
    if (is(fields[k], CONTEXT, 1)) authAttrs = fields[k++]!;
    mac = octets(der, expect(fields[k], UNIVERSAL, T.OCTET_STRING, 'mac'));
  }

  const eciFields = children(der, eci);
  const cipherAlg = algorithm(der, expect(eciFields[1], UNIVERSAL, T.SEQUENCE, 'contentEncryptionAlgorithm'));
  const encryptedTlv = eciFields[2];
  if (!is(encryptedTlv, CONTEXT, 0))
    throw new SealpostError(
      'malformed',
      'The encrypted message carries no encrypted content (detached content is not supported).',
    );
  if (encryptedTlv.contentEnd - encryptedTlv.contentStart > ctx.limits.maxTotalBytes)
    throw limitExceeded('total size', ctx.limits.maxTotalBytes);
  const cipher = CONTENT_CIPHERS[cipherAlg.oid];
  const contentAlgorithm = cipher?.name ?? algorithmName(cipherAlg.oid);

  const recipients = readRecipients(der, recipientSet);
  const layer: EncryptedLayer = {
    kind: 'encrypted',
    format: auth ? 'cms-auth-enveloped' : 'cms-enveloped',
    contentAlgorithm,
    recipients: recipients.map((r) => r.description),
    openedBy: null,
    integrityProtected: cipher?.kind === 'aes-gcm' || cipher?.kind === 'chacha20-poly1305',
    problems: [],
  };
  if (!cipher)
    throw new SealpostError(
      'unsupported',
      `The message is encrypted with ${contentAlgorithm}, which Sealpost cannot decrypt.`,
      {
        algorithm: contentAlgorithm,
      },
    );
  const aead = cipher.kind === 'aes-gcm' || cipher.kind === 'chacha20-poly1305';
  if (auth && !aead)
    throw new SealpostError('unsupported', `AuthEnvelopedData with ${contentAlgorithm} is not supported.`, {
      algorithm: contentAlgorithm,
    });
  if (!auth && aead)
    throw new SealpostError(
      'malformed',
      `${contentAlgorithm} must be used in AuthEnvelopedData, not EnvelopedData.`,
    );

  const { cek, openedBy } = await recoverKey(der, recipients, ctx, cipher.keyBytes);
  layer.openedBy = openedBy;
  ctx.onProgress?.('decrypt', 0, encryptedTlv.contentEnd - encryptedTlv.contentStart);
  const encrypted = octets(der, encryptedTlv);

  let plaintext: Uint8Array;
  if (cipher.kind === 'aes-gcm') {
    plaintext = await decryptGcm(der, cipherAlg.params, cek, encrypted, mac!, authAttrs);
  } else if (cipher.kind === 'chacha20-poly1305') {
    const aad = authAttrs ? retag(der, authAttrs, 0x31) : undefined;
    plaintext = await decryptChaCha20Poly1305(der, cipherAlg.params, cek, encrypted, mac!, aad);
  } else {
    const iv =
      cipherAlg.params && is(cipherAlg.params, UNIVERSAL, T.OCTET_STRING)
        ? content(der, cipherAlg.params)
        : null;
    if (!iv) throw new SealpostError('malformed', `The ${contentAlgorithm} parameters (the IV) are missing.`);
    plaintext = await decryptCbc(cipher.kind === 'aes-cbc' ? 'AES' : '3DES', cek, iv, encrypted);
    layer.problems.push(
      `The content encryption (${contentAlgorithm}) carries no integrity check of its own: only a signature inside proves the content was not changed.`,
    );
    if (cipher.kind === '3des-cbc')
      layer.problems.push('3DES is a legacy cipher; ask the sender to use AES.');
  }
  ctx.onProgress?.('decrypt', encrypted.length, encrypted.length);
  return { content: plaintext, layer };
}

async function decryptCbc(
  cipher: 'AES' | '3DES',
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  if (cipher === 'AES' && (key.length === 16 || key.length === 32)) {
    try {
      const k = await crypto.subtle.importKey('raw', toArrayBuffer(key), 'AES-CBC', false, ['decrypt']);
      return new Uint8Array(
        await crypto.subtle.decrypt({ name: 'AES-CBC', iv: toArrayBuffer(iv) }, k, bufferSource(data)),
      );
    } catch (e) {
      throw integrityFailure(e);
    }
  }
  const out = await cbcDecrypt(cipher, key, iv, data, true);
  if (!out) throw integrityFailure();
  return out;
}

async function decryptGcm(
  der: Uint8Array,
  params: Tlv | null,
  cek: Uint8Array,
  encrypted: Uint8Array,
  mac: Uint8Array,
  authAttrs: Tlv | null,
): Promise<Uint8Array> {
  if (!params || !is(params, UNIVERSAL, T.SEQUENCE))
    throw new SealpostError('malformed', 'The AES-GCM parameters are missing.');
  const [nonceTlv, icvTlv] = children(der, params);
  const nonce = content(der, expect(nonceTlv, UNIVERSAL, T.OCTET_STRING, 'GCM nonce'));
  const icvLen = icvTlv ? smallInteger(der, icvTlv) : 12;
  if (mac.length !== icvLen || icvLen < 12 || icvLen > 16)
    throw new SealpostError('malformed', 'The AES-GCM authentication tag has the wrong length.');
  if (cek.length === 24)
    throw new SealpostError('unsupported', 'AES-192-GCM is not supported in browsers.', {
      algorithm: 'AES-192-GCM',
    });
  const aad = authAttrs ? retag(der, authAttrs, 0x31) : undefined;
  try {
    const key = await crypto.subtle.importKey('raw', toArrayBuffer(cek), 'AES-GCM', false, ['decrypt']);
    const data = concatBytes([encrypted, mac]);
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: toArrayBuffer(nonce),
          tagLength: icvLen * 8,
          ...(aad ? { additionalData: toArrayBuffer(aad) } : {}),
        },
        key,
        bufferSource(data),
      ),
    );
  } catch (e) {
    throw integrityFailure(e);
  }
}

function readRecipients(der: Uint8Array, set: Tlv): Recipient[] {
  return children(der, set).map((tlv, index): Recipient => {
    try {
      if (is(tlv, UNIVERSAL, T.SEQUENCE)) {
        const f = children(der, tlv);
        const id = readCmsId(der, f[1]!);
        const alg = algorithm(der, f[2]!);
        return {
          index,
          kind: 'ktri',
          tlv,
          description: { type: 'key-transport', algorithm: keyTransportName(der, alg), ...describeCmsId(id) },
        };
      }
      if (is(tlv, CONTEXT, 1)) {
        const f = children(der, tlv);
        let j = 2;
        if (is(f[j], CONTEXT, 1)) j++;
        const alg = algorithm(der, f[j]!);
        const reks = children(der, f[j + 1]!);
        const first = reks[0] ? kariRid(der, children(der, reks[0])[0]!) : null;
        const scheme = ECDH_SCHEMES[alg.oid];
        return {
          index,
          kind: 'kari',
          tlv,
          description: {
            type: 'key-agreement',
            algorithm:
              describeXAgreement(der, f[1], alg.oid) ??
              (scheme ? `ECDH (${scheme.name})` : algorithmName(alg.oid)),
            ...(first ? describeCmsId(first) : { description: 'an unnamed key-agreement recipient' }),
          },
        };
      }
      if (is(tlv, CONTEXT, 3)) {
        return {
          index,
          kind: 'pwri',
          tlv,
          description: {
            type: 'password',
            algorithm: 'PBKDF2 (RFC 3211)',
            description: 'anyone who knows the message password',
          },
        };
      }
      if (is(tlv, CONTEXT, 2))
        return { index, kind: 'kekri', tlv, description: describeKekRecipient(der, tlv) };
      if (isKemRecipient(der, tlv))
        return { index, kind: 'kemri', tlv, description: describeKemRecipient(der, tlv) };
    } catch (e) {
      if (e instanceof SealpostError && e.code === 'truncated') throw e;
    }
    return {
      index,
      kind: 'other',
      tlv,
      description: { type: 'kek', algorithm: 'unknown', description: 'a recipient of an unknown kind' },
    };
  });
}

function keyTransportName(der: Uint8Array, alg: { oid: string; params: Tlv | null }): string {
  if (alg.oid === OID.rsaEncryption) return 'RSAES-PKCS1-v1_5';
  if (alg.oid === OID.rsaOaep) return `RSAES-OAEP-${oaepHash(der, alg.params).replace('-', '')}`;
  return algorithmName(alg.oid);
}

/** RSAES-OAEP-params: the hash (MGF1 must use the same one; the label must be empty). */
function oaepHash(der: Uint8Array, params: Tlv | null): string {
  let hash = 'SHA-1';
  if (!params) return hash;
  for (const f of children(der, params)) {
    if (is(f, CONTEXT, 0)) {
      const a = algorithm(der, children(der, f)[0]!);
      hash = DIGESTS[a.oid]?.webcrypto ?? `unsupported ${algorithmName(a.oid)}`;
    } else if (is(f, CONTEXT, 1)) {
      const mgf = algorithm(der, children(der, f)[0]!);
      const mgfHash = mgf.params ? algorithm(der, mgf.params) : null;
      if (
        mgf.oid !== OID.mgf1 ||
        (mgfHash && DIGESTS[mgfHash.oid]?.webcrypto !== hash && !(hash === 'SHA-1' && !mgfHash))
      )
        hash = `unsupported MGF`;
    } else if (is(f, CONTEXT, 2)) {
      const ps = algorithm(der, children(der, f)[0]!);
      if (ps.params && content(der, ps.params).length > 0) hash = 'unsupported OAEP label';
    }
  }
  return hash;
}

function kariRid(der: Uint8Array, tlv: Tlv): CmsId {
  if (is(tlv, CONTEXT, 0)) {
    // RecipientKeyIdentifier ::= SEQUENCE { subjectKeyIdentifier, date OPTIONAL, other OPTIONAL }
    const [ski] = children(der, tlv);
    return { ski: content(der, expect(ski, UNIVERSAL, T.OCTET_STRING, 'subjectKeyIdentifier')) };
  }
  return readCmsId(der, tlv);
}

async function recoverKey(
  der: Uint8Array,
  recipients: Recipient[],
  ctx: OpenContext,
  keyBytes: number,
): Promise<{ cek: Uint8Array; openedBy: EncryptedLayer['openedBy'] }> {
  const keys = ourKeys(ctx);
  let lastError: SealpostError | null = null;
  let passwordRecipient: Recipient | null = null;
  let kekRecipient: Recipient | null = null;
  for (const r of recipients) {
    try {
      if (r.kind === 'ktri') {
        const f = children(der, r.tlv);
        const id = readCmsId(der, f[1]!);
        const key = keys.find((k) => matches(id, k.ids));
        if (!key) continue;
        const alg = algorithm(der, f[2]!);
        const encryptedKey = content(der, expect(f[3], UNIVERSAL, T.OCTET_STRING, 'encryptedKey'));
        let cek: Uint8Array;
        if (alg.oid === OID.rsaEncryption) {
          cek = await rsaPkcs1v15DecryptImplicit(rsaKeyFromPkcs8(key.entry.pkcs8), encryptedKey, keyBytes);
        } else if (alg.oid === OID.rsaOaep) {
          const hash = oaepHash(der, alg.params);
          if (hash.startsWith('unsupported'))
            throw new SealpostError('unsupported', `RSA-OAEP with ${hash.slice(12)} is not supported.`, {
              algorithm: 'RSAES-OAEP',
            });
          try {
            cek = await rsaOaepDecrypt(key.entry.pkcs8, hash, encryptedKey);
          } catch (e) {
            throw integrityFailure(e);
          }
        } else {
          throw new SealpostError(
            'unsupported',
            `Key transport with ${algorithmName(alg.oid)} is not supported.`,
            {
              algorithm: algorithmName(alg.oid),
            },
          );
        }
        if (cek.length !== keyBytes) throw integrityFailure();
        return { cek, openedBy: { recipient: r.index, keyId: key.entry.id, description: key.entry.label } };
      }
      if (r.kind === 'kari') {
        const result = await tryKeyAgreement(der, r, keys, keyBytes);
        if (result) return result;
        continue;
      }
      if (r.kind === 'kemri') {
        const opened = await openKemRecipient(
          der,
          r.tlv,
          keys.map((k) => k.entry),
          keyBytes,
        );
        if (opened)
          return {
            cek: opened.cek,
            openedBy: { recipient: r.index, keyId: opened.entry.id, description: opened.entry.label },
          };
        continue;
      }
      if (r.kind === 'pwri') {
        passwordRecipient = r;
        continue;
      }
      if (r.kind === 'kekri') {
        kekRecipient ??= r;
        continue;
      }
    } catch (e) {
      if (e instanceof SealpostError && e.code === 'truncated') throw e;
      lastError = e instanceof SealpostError ? e : integrityFailure(e);
    }
  }
  if (passwordRecipient) {
    if (ctx.password === undefined)
      throw new SealpostError(
        'bad-password',
        'This message is protected with a password: type the message password to open it.',
        {
          passwordRequired: true,
        },
      );
    const cek = await unwrapPassword(der, passwordRecipient.tlv, ctx.password, keyBytes);
    return {
      cek,
      openedBy: {
        recipient: passwordRecipient.index,
        keyId: 'password',
        description: 'the message password',
      },
    };
  }
  if (kekRecipient && (ctx.password !== undefined || !lastError)) {
    const cek = await openKekRecipient(der, kekRecipient.tlv, ctx.password, keyBytes);
    return {
      cek,
      openedBy: {
        recipient: kekRecipient.index,
        keyId: 'pre-shared-key',
        description: `the pre-shared key ${kekRecipient.description.description.replace(/^the holder of the pre-shared key /, '')}`,
      },
    };
  }
  if (lastError) throw lastError;
  const who = recipients.map((r) => r.description.description);
  throw new SealpostError(
    'no-matching-key',
    `None of your keys can open this message. It is encrypted for ${who.join('; ') || 'no recipient at all'}.`,
    { recipients: who },
  );
}

async function tryKeyAgreement(
  der: Uint8Array,
  r: Recipient,
  keys: OurKey[],
  keyBytes: number,
): Promise<{ cek: Uint8Array; openedBy: EncryptedLayer['openedBy'] } | null> {
  const f = children(der, r.tlv);
  const originator = children(der, expect(f[1], CONTEXT, 0, 'originator'))[0];
  let j = 2;
  let ukm: Uint8Array | null = null;
  if (is(f[j], CONTEXT, 1)) {
    ukm = octets(der, expect(children(der, f[j]!)[0], UNIVERSAL, T.OCTET_STRING, 'ukm'));
    j++;
  }
  const alg = algorithm(der, f[j]!);
  const reks = children(der, f[j + 1]!);
  for (const rek of reks) {
    const [rid, ek] = children(der, rek);
    const id = kariRid(der, rid!);
    const key = keys.find((k) => matches(id, k.ids));
    if (!key) continue;
    if (isXKey(key.keyAlgorithm)) {
      const encryptedKey = content(der, expect(ek, UNIVERSAL, T.OCTET_STRING, 'encryptedKey'));
      const cek = await xKeyAgreement(der, { originator: f[1], ukm, alg, encryptedKey }, key.entry, keyBytes);
      return { cek, openedBy: { recipient: r.index, keyId: key.entry.id, description: key.entry.label } };
    }
    const scheme = ECDH_SCHEMES[alg.oid];
    if (!scheme)
      throw new SealpostError(
        'unsupported',
        `Key agreement with ${algorithmName(alg.oid)} is not supported.`,
        {
          algorithm: algorithmName(alg.oid),
        },
      );
    if (scheme.hash === 'SHA-224')
      throw new SealpostError('unsupported', 'Key agreement with a SHA-224 KDF is not supported.', {
        algorithm: scheme.name,
      });
    if (!alg.params)
      throw new SealpostError('malformed', 'The key-agreement algorithm does not name its key wrap.');
    const wrap = algorithm(der, alg.params);
    const wrapInfo = KEY_WRAPS[wrap.oid];
    if (!wrapInfo)
      throw new SealpostError('unsupported', `Key wrap with ${algorithmName(wrap.oid)} is not supported.`, {
        algorithm: algorithmName(wrap.oid),
      });
    const curve = key.curve ? CURVES[key.curve] : undefined;
    if (!curve)
      throw new SealpostError('unsupported', 'The recipient key uses an unsupported elliptic curve.', {
        algorithm: key.curve ?? 'EC',
      });
    if (!originator || !is(originator, CONTEXT, 1))
      throw new SealpostError('unsupported', 'Key agreement with a static originator key is not supported.', {
        algorithm: 'ECDH static-static',
      });
    const [, pubBits] = children(der, originator);
    const point = content(der, expect(pubBits, UNIVERSAL, T.BIT_STRING, 'originator public key')).subarray(1);
    let kek: Uint8Array;
    let cek: Uint8Array;
    try {
      const priv = await crypto.subtle.importKey(
        'pkcs8',
        toArrayBuffer(key.entry.pkcs8),
        { name: 'ECDH', namedCurve: curve.webcrypto },
        false,
        ['deriveBits'],
      );
      const pub = await crypto.subtle.importKey(
        'raw',
        toArrayBuffer(point),
        { name: 'ECDH', namedCurve: curve.webcrypto },
        false,
        [],
      );
      const z = new Uint8Array(
        await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, priv, curve.bytes * 8),
      );
      kek = await x963Kdf(
        scheme.hash,
        z,
        eccCmsSharedInfo(raw(der, alg.params), ukm, wrapInfo.keyBytes),
        wrapInfo.keyBytes,
      );
    } catch (e) {
      throw new SealpostError(
        'malformed',
        'The key-agreement data in the message is not valid.',
        {},
        { cause: e },
      );
    }
    try {
      const kw = await crypto.subtle.importKey('raw', toArrayBuffer(kek), 'AES-KW', false, ['unwrapKey']);
      const unwrapped = await crypto.subtle.unwrapKey(
        'raw',
        toArrayBuffer(content(der, expect(ek, UNIVERSAL, T.OCTET_STRING, 'encryptedKey'))),
        kw,
        'AES-KW',
        { name: 'HMAC', hash: 'SHA-256' },
        true,
        ['sign'],
      );
      cek = new Uint8Array(await crypto.subtle.exportKey('raw', unwrapped));
    } catch (e) {
      throw integrityFailure(e);
    }
    if (cek.length !== keyBytes) throw integrityFailure();
    return { cek, openedBy: { recipient: r.index, keyId: key.entry.id, description: key.entry.label } };
  }
  return null;
}

/** RFC 3211: PBKDF2 key derivation and the double-CBC key unwrap. */
async function unwrapPassword(
  der: Uint8Array,
  tlv: Tlv,
  password: string,
  keyBytes: number,
): Promise<Uint8Array> {
  const f = children(der, tlv);
  let j = 1;
  let kdf: Tlv | null = null;
  if (is(f[j], CONTEXT, 0)) kdf = f[j++]!;
  const kea = algorithm(der, f[j++]!);
  const encryptedKey = content(der, expect(f[j], UNIVERSAL, T.OCTET_STRING, 'encryptedKey'));
  if (!kdf)
    throw new SealpostError(
      'unsupported',
      'A password recipient without a key derivation algorithm is not supported.',
      { algorithm: 'PWRI' },
    );
  const kdfFields = children(der, kdf);
  const kdfOid = oid(der, kdfFields[0]!);
  if (kdfOid !== OID.pbkdf2)
    throw new SealpostError(
      'unsupported',
      `Password key derivation with ${algorithmName(kdfOid)} is not supported.`,
      { algorithm: algorithmName(kdfOid) },
    );
  const p = children(der, expect(kdfFields[1], UNIVERSAL, T.SEQUENCE, 'PBKDF2 parameters'));
  const salt = content(der, expect(p[0], UNIVERSAL, T.OCTET_STRING, 'PBKDF2 salt'));
  const iterations = smallInteger(der, p[1]!);
  let prf = 'SHA-1';
  for (const extra of p.slice(2)) {
    if (is(extra, UNIVERSAL, T.SEQUENCE)) {
      const a = algorithm(der, extra);
      const h = HMACS[a.oid];
      if (!h)
        throw new SealpostError('unsupported', `PBKDF2 with ${algorithmName(a.oid)} is not supported.`, {
          algorithm: algorithmName(a.oid),
        });
      prf = h;
    }
  }
  if (iterations < 1 || iterations > 10_000_000)
    throw new SealpostError('malformed', 'The password iteration count is out of range.');
  if (kea.oid !== OID.pwriKek || !kea.params)
    throw new SealpostError(
      'unsupported',
      `Password key encryption with ${algorithmName(kea.oid)} is not supported.`,
      { algorithm: algorithmName(kea.oid) },
    );
  const kekAlg = algorithm(der, kea.params);
  const kekCipher = CONTENT_CIPHERS[kekAlg.oid];
  if (!kekCipher || kekCipher.kind === 'aes-gcm' || !kekAlg.params)
    throw new SealpostError(
      'unsupported',
      `Password key encryption with ${algorithmName(kekAlg.oid)} is not supported.`,
      {
        algorithm: algorithmName(kekAlg.oid),
      },
    );
  const iv = content(der, kekAlg.params);
  const base = await crypto.subtle.importKey('raw', toArrayBuffer(utf8(password)), 'PBKDF2', false, [
    'deriveBits',
  ]);
  const kek = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'PBKDF2', salt: toArrayBuffer(salt), iterations, hash: prf },
      base,
      kekCipher.keyBytes * 8,
    ),
  );
  const block = kekCipher.kind === 'aes-cbc' ? 16 : 8;
  const name = kekCipher.kind === 'aes-cbc' ? 'AES' : '3DES';
  const wrong = (): SealpostError =>
    new SealpostError('bad-password', 'The message password is not correct.', { passwordRequired: true });
  const n = encryptedKey.length / block;
  if (!Number.isInteger(n) || n < 2) throw wrong();
  const last = await cbcDecrypt(
    name,
    kek,
    encryptedKey.subarray((n - 2) * block, (n - 1) * block),
    encryptedKey.subarray((n - 1) * block),
    false,
  );
  if (!last) throw wrong();
  const head = await cbcDecrypt(name, kek, last, encryptedKey.subarray(0, (n - 1) * block), false);
  if (!head) throw wrong();
  const inner = await cbcDecrypt(name, kek, iv, concatBytes([head, last]), false);
  if (!inner) throw wrong();
  const len = inner[0]!;
  if (len < 3 || 4 + len > inner.length) throw wrong();
  if (((inner[1]! ^ inner[4]!) & (inner[2]! ^ inner[5]!) & (inner[3]! ^ inner[6]!)) !== 0xff) throw wrong();
  const cek = inner.slice(4, 4 + len);
  if (cek.length !== keyBytes) throw wrong();
  return cek;
}
