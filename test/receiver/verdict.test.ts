import { describe, expect, it } from 'vitest';
import { emptySignature } from '../../src/core/report.ts';
import { verdict } from '../../src/receiver/verdict.ts';

describe('verdict wording', () => {
  it('names a signer without an e-mail address by its certificate subject, not as unknown', () => {
    const s = emptySignature('untrusted');
    s.certificate = {
      subject: 'CN=ML-DSA-65 test signer',
      issuer: 'CN=ML-DSA-65 test signer',
      serialNumber: '01',
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2027-01-01T00:00:00Z',
      sha256Fingerprint: '00',
      sha1Fingerprint: '00',
      emailAddresses: [],
      keyUsage: [],
      extendedKeyUsage: [],
      publicKeyAlgorithm: 'ML-DSA-65',
      signatureAlgorithm: 'ML-DSA-65',
      isCA: false,
      selfSigned: true,
    };
    const v = verdict(s, false, 'alice@example.test');
    expect(v.headline).toContain('CN=ML-DSA-65 test signer');
    expect(v.headline).not.toContain('unknown signer');
  });

  it('keeps "unknown signer" for a signature nothing names', () => {
    expect(verdict(emptySignature('untrusted'), false, '').headline).toContain('an unknown signer');
  });
});
