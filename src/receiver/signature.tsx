/**
 * The signature panel: in words, colour and icon, in a role=status region; and the certificate
 * dialog (subject, issuer chain, validity, fingerprints, key usage).
 */
import { useRef } from 'preact/hooks';
import type { CertificateInfo, OpenedMessage, SignatureReport } from '../core/index.ts';
import { formatDate } from './words.ts';

interface Verdict {
  tone: 'good' | 'warn' | 'bad' | 'neutral';
  icon: string;
  headline: string;
  detail: string;
}

export function verdict(s: SignatureReport, encrypted: boolean): Verdict {
  const who = s.signer ?? 'an unknown signer';
  switch (s.status) {
    case 'valid':
      if (s.fromMatches === false)
        return {
          tone: 'warn',
          icon: '⚠',
          headline: `Signed by ${who} — but the message claims to be from someone else`,
          detail:
            'The signature is good, but the signer is not the address in the From line. Someone may be impersonating the sender.',
        };
      return {
        tone: 'good',
        icon: '✔',
        headline: `Signed by ${who} — verified`,
        detail:
          'The signature is good and the signer’s certificate is trusted. The message was not changed after it was signed.',
      };
    case 'untrusted':
      return {
        tone: 'warn',
        icon: '⚠',
        headline: `Signed by ${who} — not verified`,
        detail:
          'The signature is intact, but the signer’s certificate or key is not one you trust. Anyone can create a certificate in any name.',
      };
    case 'unknown-signer':
      return {
        tone: 'warn',
        icon: '?',
        headline: 'Signed by an unknown signer — not verified',
        detail:
          'The message is signed, but the signer’s key is not available, so the signature cannot be checked.',
      };
    case 'invalid':
      return {
        tone: 'bad',
        icon: '✖',
        headline: 'Invalid signature — the message was altered',
        detail: 'The content or the signature was changed after signing. The content is not shown.',
      };
    default:
      return {
        tone: 'neutral',
        icon: encrypted ? '🔒' : '•',
        headline: encrypted ? 'Encrypted, not signed' : 'Not signed',
        detail: encrypted
          ? 'Only you could read this message, but it carries no signature that proves who wrote it.'
          : 'Nothing proves who wrote this message.',
      };
  }
}

export function SignaturePanel({ report }: { report: OpenedMessage }) {
  const s = report.signature;
  const v = verdict(s, report.encrypted);
  const dialog = useRef<HTMLDialogElement>(null);
  const cert = s.certificate;
  return (
    <section class={`signature tone-${v.tone}`} aria-labelledby="sig-headline">
      <div role="status" aria-live="polite" class="signature-status">
        <span class="signature-icon" aria-hidden="true">
          {v.icon}
        </span>
        <div>
          <p id="sig-headline" class="signature-headline">
            {v.headline}
          </p>
          <p class="signature-detail">{v.detail}</p>
          {s.problems.length > 0 && (
            <ul class="signature-problems">
              {s.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
      <div class="signature-actions">
        {s.signedAt && <span>Signed {formatDate(s.signedAt)}. </span>}
        {cert && (
          <button type="button" class="link-button" onClick={() => dialog.current?.showModal()}>
            Show certificate
          </button>
        )}
        {s.openpgpKey && (
          <span>
            OpenPGP key <code>{groupHex(s.openpgpKey.fingerprint)}</code>
          </span>
        )}
      </div>
      {cert && (
        <dialog ref={dialog} class="cert-dialog" aria-labelledby="cert-title">
          <h2 id="cert-title">Signer’s certificate</h2>
          <CertificateDetails cert={cert} />
          {s.chain.length > 1 && (
            <>
              <h3>Issued through</h3>
              <ol class="chain">
                {s.chain.slice(1).map((c) => (
                  <li key={c.sha256Fingerprint}>
                    {c.subject}
                    {c.selfSigned ? ' (trusted root)' : ''}
                  </li>
                ))}
              </ol>
            </>
          )}
          <form method="dialog">
            <button type="submit">Close</button>
          </form>
        </dialog>
      )}
    </section>
  );
}

export function CertificateDetails({ cert }: { cert: CertificateInfo }) {
  return (
    <dl class="cert-details">
      <dt>Subject</dt>
      <dd>{cert.subject}</dd>
      <dt>E-mail</dt>
      <dd>{cert.emailAddresses.join(', ') || '—'}</dd>
      <dt>Issuer</dt>
      <dd>{cert.issuer}</dd>
      <dt>Valid</dt>
      <dd>
        {formatDate(cert.notBefore)} to {formatDate(cert.notAfter)}
      </dd>
      <dt>Serial number</dt>
      <dd>
        <code>{groupHex(cert.serialNumber)}</code>
      </dd>
      <dt>SHA-256 fingerprint</dt>
      <dd>
        <code>{groupHex(cert.sha256Fingerprint)}</code>
      </dd>
      <dt>SHA-1 fingerprint</dt>
      <dd>
        <code>{groupHex(cert.sha1Fingerprint)}</code>
      </dd>
      <dt>Key</dt>
      <dd>{cert.publicKeyAlgorithm}</dd>
      <dt>Key usage</dt>
      <dd>{[...cert.keyUsage, ...cert.extendedKeyUsage].join(', ') || '—'}</dd>
    </dl>
  );
}

export function groupHex(hex: string): string {
  return (hex.toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}
