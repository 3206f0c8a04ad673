/**
 * PKCS#12 import and export.
 *
 * Import goes through node-forge, which reads both the OpenSSL 3 default (PBES2: PBKDF2 + AES-256-CBC,
 * HMAC-SHA256 MAC) and the legacy files most Windows exports still produce (3DES/RC2-40 with the
 * PKCS#12 KDF, SHA-1 MAC) — PKI.js reads only the former. Export uses PKI.js: AES-256-CBC with
 * PBKDF2-HMAC-SHA256 for the key and the certificates, and an HMAC-SHA256 MAC, which `openssl pkcs12`
 * reads.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sha256Hex, toArrayBuffer, utf8 } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import type { CertificateEntry, KeyEntry, SmimePrivateEntry } from '../keyring.ts';
import { certificateLabel, isCA, parseCertificate, type ParsedCertificate } from './certs.ts';
import { fromBinary, loadForge, toBinary } from './legacy.ts';

const KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';
// 100,000 PBKDF2-SHA256 rounds: far above OpenSSL's default (2,048) yet quick to import in pure-JS readers.
const EXPORT_ITERATIONS = 100_000;

export async function importPkcs12File(bytes: Uint8Array, passphrase: string): Promise<KeyEntry[]> {
  const forge = await loadForge();
  type Bag = { key?: unknown; asn1?: unknown; cert?: unknown; attributes?: { localKeyId?: string[] } };
  let bags: { keys: Bag[]; certs: Bag[] };
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(toBinary(bytes)));
    const p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
    const get = (t: string): Bag[] => (p12.getBags({ bagType: t })[t] ?? []) as Bag[];
    bags = { keys: [...get(SHROUDED_KEY_BAG), ...get(KEY_BAG)], certs: get(CERT_BAG) };
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    if (/MAC could not be verified|Invalid password|decrypt|padding/i.test(text))
      throw new SealpostError(
        'bad-passphrase',
        'The passphrase for this PKCS#12 file is not correct.',
        {},
        { cause: e },
      );
    if (/Unsupported|not supported/i.test(text))
      throw new SealpostError(
        'unsupported',
        `This PKCS#12 file uses an algorithm Sealpost cannot read (${text}).`,
        { algorithm: text },
        { cause: e },
      );
    throw new SealpostError('malformed', 'This PKCS#12 file could not be read.', {}, { cause: e });
  }

  const derOf = (node: unknown): Uint8Array =>
    fromBinary(forge.asn1.toDer(node as Parameters<typeof forge.asn1.toDer>[0]).getBytes());
  const certs: { p: ParsedCertificate; localKeyId: string | null }[] = [];
  for (const b of bags.certs) {
    const node = b.cert
      ? forge.pki.certificateToAsn1(b.cert as Parameters<typeof forge.pki.certificateToAsn1>[0])
      : b.asn1;
    if (!node) continue;
    certs.push({ p: parseCertificate(derOf(node)), localKeyId: b.attributes?.localKeyId?.[0] ?? null });
  }
  const out: KeyEntry[] = [];
  const used = new Set<ParsedCertificate>();
  for (const b of bags.keys) {
    let pkcs8: Uint8Array;
    if (b.key) {
      const rsa = forge.pki.privateKeyToAsn1(b.key as Parameters<typeof forge.pki.privateKeyToAsn1>[0]);
      pkcs8 = derOf(forge.pki.wrapRsaPrivateKey(rsa));
    } else if (b.asn1) {
      pkcs8 = derOf(b.asn1);
    } else continue;
    const id = b.attributes?.localKeyId?.[0] ?? null;
    const mine =
      (id !== null ? certs.find((c) => c.localKeyId === id) : undefined) ??
      certs.find((c) => !isCA(c.p.cert) && !used.has(c.p)) ??
      certs[0];
    if (!mine)
      throw new SealpostError('malformed', 'This PKCS#12 file holds a private key but not its certificate.');
    used.add(mine.p);
    const entry: SmimePrivateEntry = {
      type: 'smime-private',
      id: await sha256Hex(mine.p.der),
      label: certificateLabel(mine.p.cert),
      certificate: mine.p.der,
      chain: certs.filter((c) => c !== mine).map((c) => c.p.der),
      pkcs8,
    };
    out.push(entry);
  }
  if (out.length === 0) throw new SealpostError('malformed', 'This PKCS#12 file holds no private key.');
  for (const c of certs) {
    if (used.has(c.p)) continue;
    const entry: CertificateEntry = {
      type: 'certificate',
      id: await sha256Hex(c.p.der),
      label: certificateLabel(c.p.cert),
      certificate: c.p.der,
      trusted: false,
    };
    out.push(entry);
  }
  return out;
}

export async function exportPkcs12File(entry: SmimePrivateEntry, passphrase: string): Promise<Uint8Array> {
  const password = toArrayBuffer(utf8(passphrase));
  const keyInfo = new pkijs.PrivateKeyInfo({ schema: asn1js.fromBER(toArrayBuffer(entry.pkcs8)).result });
  const localKeyId = new Uint8Array(await crypto.subtle.digest('SHA-1', toArrayBuffer(entry.certificate)));
  const attributes = [
    new pkijs.Attribute({
      type: '1.2.840.113549.1.9.21', // localKeyId
      values: [new asn1js.OctetString({ valueHex: toArrayBuffer(localKeyId) })],
    }),
  ];
  const certBags = [entry.certificate, ...entry.chain].map(
    (der, i) =>
      new pkijs.SafeBag({
        bagId: CERT_BAG,
        bagValue: new pkijs.CertBag({ parsedValue: parseCertificate(der).cert }),
        ...(i === 0 ? { bagAttributes: attributes } : {}),
      }),
  );
  const keyBag = new pkijs.SafeBag({
    bagId: SHROUDED_KEY_BAG,
    bagValue: new pkijs.PKCS8ShroudedKeyBag({ parsedValue: keyInfo }),
    bagAttributes: attributes,
  });
  const encryption = {
    password,
    contentEncryptionAlgorithm: {
      name: 'AES-CBC',
      length: 256,
    } as unknown as pkijs.ContentEncryptionAesCbcParams,
    hmacHashAlgorithm: 'SHA-256',
    iterationCount: EXPORT_ITERATIONS,
  };
  const shrouded = keyBag.bagValue as pkijs.PKCS8ShroudedKeyBag;
  await shrouded.makeInternalValues(encryption);
  // PKI.js leaves the encrypted key as a constructed (segmented) OCTET STRING; RFC 5958 readers such
  // as node-forge and some Windows versions want the primitive DER form.
  shrouded.encryptedData = new asn1js.OctetString({ valueHex: shrouded.encryptedData.getValue() });
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0,
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [
            { privacyMode: 0, value: new pkijs.SafeContents({ safeBags: [keyBag] }) },
            { privacyMode: 1, value: new pkijs.SafeContents({ safeBags: certBags }) },
          ],
        },
      }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}, encryption] });
  await pfx.makeInternalValues({
    password,
    iterations: EXPORT_ITERATIONS,
    pbkdf2HashAlgorithm: 'SHA-256',
    hmacHashAlgorithm: 'SHA-256',
  });
  return new Uint8Array(pfx.toSchema().toBER(false));
}
