/**
 * The signature panel: in words, colour and icon, in a role=status region; and the certificate
 * dialog (subject, issuer chain, validity, fingerprints, key usage).
 */
import { useRef } from 'preact/hooks';
import type { CertificateInfo, OpenedMessage } from '../core/index.ts';
import { verdict } from './verdict.ts';
import { formatDate, plainProblem } from './words.ts';

export function SignaturePanel({ report }: { report: OpenedMessage }) {
  const s = report.signature;
  const v = verdict(s, report.encrypted, report.from);
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
          {v.next && <p class="next">{v.next}</p>}
          {s.problems.length > 0 && (
            <ul class="signature-problems">
              {s.problems.map((p) => (
                <li key={p}>{plainProblem(p)}</li>
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
      <dd>{plainAlgorithm(cert.publicKeyAlgorithm)}</dd>
      <dt>Signed with</dt>
      <dd>{plainAlgorithm(cert.signatureAlgorithm)}</dd>
      <dt>Key usage</dt>
      <dd>{[...cert.keyUsage, ...cert.extendedKeyUsage].join(', ') || '—'}</dd>
    </dl>
  );
}

/**
 * An algorithm's name as people should read it: the post-quantum ones (FIPS 203/204/205) say so,
 * "ML-KEM-768 (post-quantum)"; the others as they are ("Ed25519", "RSA 2048", "X25519").
 */
export function plainAlgorithm(name: string): string {
  if (!/^(Hash)?(ML-KEM|ML-DSA|SLH-DSA)-/.test(name)) return name;
  const m = /^(\S+) \((.+)\)$/.exec(name);
  return m ? `${m[1]} (post-quantum, ${m[2]})` : `${name} (post-quantum)`;
}

export function groupHex(hex: string): string {
  return (hex.toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}
