/**
 * The link's secret: only a well-formed fragment replaces the one this tab kept (issue 10: the skip
 * link's "#main" became the secret at the next reload and locked the delivery).
 */
import { describe, expect, it } from 'vitest';
import { chooseSecret, isWellFormedSecret } from '../../src/receiver/link.ts';

const SECRET = 'q3Xb0iN7c1hYd2vKx9LmP4rT6sWzA8eF5gJ0uHnB2oC'; // 43 base64url characters
const OTHER = 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6L';

describe('the link secret', () => {
  it('takes a well-formed fragment and keeps it', () => {
    expect(chooseSecret(`#${SECRET}`, null)).toEqual({ secret: SECRET, keep: true, clearFragment: true });
    // A new link opened in the same tab replaces the old secret.
    expect(chooseSecret(`#${OTHER}`, SECRET)).toEqual({ secret: OTHER, keep: true, clearFragment: true });
  });

  it('never lets an in-page anchor or junk replace the stored secret', () => {
    for (const junk of ['#main', '#', '#top', '#%E0%A4%A', '#a b', `#${SECRET.slice(0, 20)}`, `#${SECRET}!`])
      expect(chooseSecret(junk, SECRET)).toMatchObject({ secret: SECRET, keep: false });
    expect(chooseSecret('#main', SECRET).clearFragment).toBe(true);
    expect(chooseSecret('', SECRET)).toEqual({ secret: SECRET, keep: false, clearFragment: false });
  });

  it('has no secret for an incomplete link, and ignores a stored value that is no secret', () => {
    expect(chooseSecret('#main', null).secret).toBeNull();
    expect(chooseSecret('', 'main').secret).toBeNull();
    expect(isWellFormedSecret(SECRET)).toBe(true);
    expect(isWellFormedSecret('main')).toBe(false);
  });
});
