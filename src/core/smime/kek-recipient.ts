/**
 * KEKRecipientInfo (RFC 5652 §6.2.3): the content-encryption key wrapped under a key the sender and
 * the recipient agreed beforehand (a pre-shared key), named by a key identifier.
 *
 *   KEKRecipientInfo ::= SEQUENCE {
 *     version CMSVersion,  -- always set to 4
 *     kekid KEKIdentifier,
 *     keyEncryptionAlgorithm KeyEncryptionAlgorithmIdentifier,
 *     encryptedKey EncryptedKey }
 *   KEKIdentifier ::= SEQUENCE { keyIdentifier OCTET STRING, date GeneralizedTime OPTIONAL,
 *                                other OtherKeyAttribute OPTIONAL }
 *
 * The recipient types the key (hexadecimal or base64) where a message password would go; AES key
 * wrap (RFC 3394/3565) with 128-, 192- and 256-bit KEKs. A wrong key fails the wrap's integrity
 * check, which says only "not this key".
 */
import { base64Decode, fromHex, latin1, toHex } from '../bytes.ts';
import { SealpostError } from '../errors.ts';
import type { RecipientDescription } from '../report.ts';
import { T, UNIVERSAL, algorithm, children, content, expect, smallInteger, type Tlv } from './ber.ts';
import { aesKeyUnwrap } from './keywrap.ts';
import { KEY_WRAPS, algorithmName } from './oids.ts';

interface KekRecipient {
  keyId: Uint8Array;
  wrap: string;
  encryptedKey: Uint8Array;
}

function readKekRecipient(der: Uint8Array, ri: Tlv): KekRecipient {
  const f = children(der, ri);
  if (smallInteger(der, f[0]!) !== 4)
    throw new SealpostError('malformed', 'The KEKRecipientInfo has an unknown version.');
  const kekid = children(der, expect(f[1], UNIVERSAL, T.SEQUENCE, 'KEKIdentifier'));
  return {
    keyId: content(der, expect(kekid[0], UNIVERSAL, T.OCTET_STRING, 'keyIdentifier')),
    wrap: algorithm(der, f[2]!).oid,
    encryptedKey: content(der, expect(f[3], UNIVERSAL, T.OCTET_STRING, 'encryptedKey')),
  };
}

/** The key identifier for people: its text when it is printable, else hexadecimal. */
function keyIdText(id: Uint8Array): string {
  const text = latin1(id);
  return /^[\x20-\x7e]{1,64}$/.test(text) ? `“${text}”` : toHex(id);
}

export function describeKekRecipient(der: Uint8Array, ri: Tlv): RecipientDescription {
  const r = readKekRecipient(der, ri);
  return {
    type: 'kek',
    algorithm: KEY_WRAPS[r.wrap]?.name ?? algorithmName(r.wrap),
    description: `the holder of the pre-shared key ${keyIdText(r.keyId)}`,
    keyId: toHex(r.keyId),
  };
}

/**
 * A typed key of `length` bytes: hexadecimal (spaces, colons and a 0x prefix allowed) or base64
 * (standard or URL-safe); null when it is neither (text that reads both ways is taken in the way
 * that gives the right length).
 */
export function parseTypedKey(text: string, length: number): Uint8Array | null {
  const t = text.trim();
  const candidates: Uint8Array[] = [];
  const hex = t.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (/^([0-9a-fA-F]{2})+$/.test(hex)) candidates.push(fromHex(hex));
  const b64 = t.replace(/\s/g, '').replace(/-/g, '+').replace(/_/g, '/');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    try {
      candidates.push(base64Decode(b64));
    } catch {
      // not base64 after all
    }
  }
  return candidates.find((c) => c.length === length) ?? null;
}

export async function openKekRecipient(
  der: Uint8Array,
  ri: Tlv,
  typed: string | undefined,
  keyBytes: number,
): Promise<Uint8Array> {
  const r = readKekRecipient(der, ri);
  const wrap = KEY_WRAPS[r.wrap];
  if (!wrap)
    throw new SealpostError('unsupported', `Key wrap with ${algorithmName(r.wrap)} is not supported.`, {
      algorithm: algorithmName(r.wrap),
    });
  const details = {
    passwordRequired: true,
    preSharedKey: true,
    keyId: keyIdText(r.keyId),
    keyBits: wrap.keyBytes * 8,
  };
  if (typed === undefined)
    throw new SealpostError(
      'bad-password',
      `This message is encrypted with a pre-shared key (${details.keyId}): type that key to open it.`,
      details,
    );
  const kek = parseTypedKey(typed, wrap.keyBytes);
  if (!kek)
    throw new SealpostError(
      'bad-password',
      `That is not a ${wrap.keyBytes * 8}-bit key: type the pre-shared key ${details.keyId} in hexadecimal or base64.`,
      details,
    );
  const cek = await aesKeyUnwrap(kek, r.encryptedKey);
  if (!cek || cek.length !== keyBytes)
    throw new SealpostError('bad-password', `The pre-shared key ${details.keyId} is not correct.`, details);
  return cek;
}
