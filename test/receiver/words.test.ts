/**
 * What the receiver says (issue 10): no library's words reach the page, every error and every
 * verdict but "verified" and "not signed" has a next step, a key file's problem is not blamed on
 * the sender.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, emptySignature } from '../../src/core/index.ts';
import { verdict } from '../../src/receiver/verdict.ts';
import { explainKeyError, explainOpenError, plainProblem } from '../../src/receiver/words.ts';

const LIBRARY = /No valid certificate paths|Error during parsing/;

describe('the receiver in plain words', () => {
  it('never shows a library message', () => {
    const wrapped = 'The S/MIME signature could not be read: Error during parsing';
    for (const code of ['malformed', 'unsupported', 'limit-exceeded', 'internal']) {
      const x = explainOpenError(code, wrapped, {});
      expect(`${x.title} ${x.text} ${x.next}`, code).not.toMatch(LIBRARY);
      const k = explainKeyError(code, wrapped, {});
      expect(`${k.title} ${k.text} ${k.next}`, code).not.toMatch(LIBRARY);
    }
    expect(explainOpenError('malformed', wrapped, {}).text).toBe('The S/MIME signature could not be read.');
    expect(explainOpenError('internal', 'TypeError: x is undefined', {}).text).not.toMatch(/TypeError/);
    expect(
      plainProblem(
        'The signer’s certificate does not chain to a trusted certificate authority: No valid certificate paths found',
      ),
    ).toBe('The signer’s certificate does not chain to a trusted certificate authority.');
    expect(plainProblem('The signer’s key is known but not trusted.')).toBe(
      'The signer’s key is known but not trusted.',
    );
  });

  it('a key file without its certificate is the key file’s problem, not the sender’s algorithm', () => {
    const k = explainKeyError(
      'malformed',
      'This private key came without its certificate: import the certificate together with it (in the same PEM file, or choose both files at once).',
      {},
    );
    expect(k.text).toMatch(/without its certificate/);
    expect(`${k.text} ${k.next}`).not.toMatch(/sender|current algorithm/);
    expect(
      explainKeyError(
        'unsupported',
        'The private key is encrypted with an algorithm Sealpost cannot read (RC5).',
        {},
      ).next,
    ).not.toMatch(/sender/);
  });

  it('every error has a next step', () => {
    for (const code of [...ERROR_CODES, 'internal']) {
      expect(explainOpenError(code, 'x', {}).next, code).not.toBe('');
      expect(explainKeyError(code, 'x', {}).next, code).not.toBe('');
    }
  });

  it('every verdict that is not plainly good has a next step', () => {
    for (const status of ['signer-mismatch', 'untrusted', 'unknown-signer', 'invalid'] as const) {
      const s = { ...emptySignature(status), signer: 'alice@example.org', fromMatches: false };
      for (const from of ['', 'mallory@example.com'])
        expect(verdict(s, false, from).next, status).not.toBe('');
    }
    expect(
      verdict({ ...emptySignature('valid'), signer: 'a@b', fromMatches: true }, false, 'a@b').headline,
    ).toMatch(/verified/);
  });
});
