/**
 * The report `openMessage` produces: what the message was, every layer peeled from it, the
 * signature covering what is shown, and the sender's text and files. Plain data: it can cross a
 * worker boundary with postMessage and be printed as JSON by `sealpost open --json`.
 */

export type Protocol = 'smime' | 'pgp-mime' | 'openpgp-inline' | 'plain';

/**
 * - `valid`: a good signature over the content shown, by a signer who chains to a trusted anchor
 *   (S/MIME) or is a trusted key (OpenPGP), **and who is the message's From address**.
 * - `signer-mismatch`: all of that, except the signer is not the From address — From names another
 *   address, or there is none (no From, or only a display name). The signature does not bind the
 *   sender shown, so it is not `valid` ("Johnny, you are fired"; a page that would show some other
 *   address beside a green mark).
 * - `untrusted`: a good signature by a signer who is not trusted.
 * - `unknown-signer`: signed, but the signer's certificate or key is not available.
 * - `invalid`: the content or the signature was altered (the content is withheld).
 * - `none`: not signed.
 */
export type SignatureStatus =
  'valid' | 'signer-mismatch' | 'untrusted' | 'unknown-signer' | 'invalid' | 'none';

/** An X.509 certificate, described for people and for machines. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string; // hex, lower case, no separators
  notBefore: string; // ISO 8601
  notAfter: string; // ISO 8601
  sha256Fingerprint: string; // hex, lower case
  sha1Fingerprint: string; // hex, lower case (shown in dialogs; never used for security decisions)
  emailAddresses: string[];
  keyUsage: string[]; // e.g. ["digitalSignature", "keyEncipherment"]
  extendedKeyUsage: string[]; // e.g. ["emailProtection"]
  publicKeyAlgorithm: string; // e.g. "RSA 2048", "EC P-256"
  signatureAlgorithm: string; // e.g. "sha256WithRSAEncryption"
  isCA: boolean;
  selfSigned: boolean;
}

/** An OpenPGP key, described for people and for machines. */
export interface OpenPgpKeyInfo {
  fingerprint: string; // hex, lower case
  keyId: string; // hex, lower case
  userIds: string[];
  algorithm: string; // e.g. "RSA 3072", "Ed25519"
  version: number; // 4 or 6
  created: string; // ISO 8601
  expires: string | null;
}

export interface SignatureReport {
  status: SignatureStatus;
  /** Signer's e-mail address, from the certificate or the OpenPGP user ID. */
  signer: string | null;
  /**
   * Whether the message's From address is the signer's: false when it is another address or there
   * is no From address; null when there is no signer. `status` already says it (`valid` only when
   * true): consumers need not check this.
   */
  fromMatches: boolean | null;
  signedAt: string | null;
  /** The signer's certificate (S/MIME). */
  certificate: CertificateInfo | null;
  /** The signer's key (OpenPGP). */
  openpgpKey: OpenPgpKeyInfo | null;
  /** S/MIME: the path from the signer to the trust anchor, signer first (empty when no path). */
  chain: CertificateInfo[];
  /** Digest and signature algorithms, by name. */
  digestAlgorithm: string | null;
  signatureAlgorithm: string | null;
  /** Everything that keeps the status from being `valid`, and anything else worth knowing. */
  problems: string[];
}

/**
 * A trusted good signature is `valid` only when its signer is the From address, else
 * `signer-mismatch` (and back, when the From is judged again): the one place the rule lives.
 * `openMessage` applies it to every signature it reports; the S/MIME and OpenPGP halves' own
 * verdicts (`valid` = good and trusted) know no From and are not bound until then.
 */
export function bindToFrom(report: SignatureReport): void {
  if (report.status === 'valid' || report.status === 'signer-mismatch')
    report.status = report.fromMatches === true ? 'valid' : 'signer-mismatch';
}

/** A report with nothing known yet but its status (filled in by the S/MIME and OpenPGP halves). */
export function emptySignature(status: SignatureStatus, problems: string[] = []): SignatureReport {
  return {
    status,
    signer: null,
    fromMatches: null,
    signedAt: null,
    certificate: null,
    openpgpKey: null,
    chain: [],
    digestAlgorithm: null,
    signatureAlgorithm: null,
    problems,
  };
}

export const NO_SIGNATURE: Readonly<SignatureReport> = Object.freeze(emptySignature('none'));

/** Who a message is encrypted for, as far as the message says. */
export interface RecipientDescription {
  type:
    | 'key-transport'
    | 'key-agreement'
    | 'key-encapsulation'
    | 'password'
    | 'kek'
    | 'openpgp-public-key'
    | 'openpgp-password';
  /** Issuer and serial (S/MIME), subject key identifier, or OpenPGP key ID, in words. */
  description: string;
  /**
   * Key-management algorithm by name (e.g. "RSAES-PKCS1-v1_5", "RSAES-OAEP-SHA256", "ECDH P-256",
   * "X25519 (dhSinglePass-stdDH-hkdf-sha256)", "ML-KEM-768 (HKDF-SHA256)", "AES-256 key wrap").
   */
  algorithm: string;
  issuer?: string;
  serialNumber?: string;
  subjectKeyIdentifier?: string;
  keyId?: string;
}

export interface EncryptedLayer {
  kind: 'encrypted';
  format: 'cms-enveloped' | 'cms-auth-enveloped' | 'openpgp' | 'pgp-mime';
  /** Content encryption algorithm by name, e.g. "AES-256-CBC", "AES-256-GCM", "3DES-CBC". */
  contentAlgorithm: string;
  recipients: RecipientDescription[];
  /** Which recipient entry (index into `recipients`) opened it, and with which of our keys. */
  openedBy: { recipient: number; keyId: string; description: string } | null;
  /** True when the content carried its own integrity check (GCM, SEIPD/MDC, AEAD). */
  integrityProtected: boolean;
  problems: string[];
}

export interface SignedLayer {
  kind: 'signed';
  format: 'cms-detached' | 'cms-opaque' | 'pgp-mime' | 'openpgp' | 'openpgp-cleartext';
  signatures: SignatureReport[];
}

export type Layer = EncryptedLayer | SignedLayer;

export interface Attachment {
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  disposition: 'attachment' | 'inline';
  contentId: string | null;
  content: Uint8Array;
}

export interface OpenedMessage {
  protocol: Protocol;
  encrypted: boolean;
  layers: Layer[];
  /** The signature covering the content shown. */
  signature: SignatureReport;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  date: string | null;
  messageId: string | null;
  text: string;
  html: string | null;
  attachments: Attachment[];
}
