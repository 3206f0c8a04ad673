/**
 * The link's secret from the address bar's fragment, or the one this tab kept. Only a well-formed
 * secret counts: the server makes 43 base64url characters (256 bits); anything shorter than 128 bits
 * or with other characters cannot be one. So an in-page anchor (the skip link's `#main`), a fragment a
 * mail client or a scanner appended, or a mangled link never replaces the secret this tab keeps —
 * it once did, and reloading then sent `main` as the secret until the delivery locked.
 */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{22,200}$/;

export function isWellFormedSecret(s: string): boolean {
  return SECRET_PATTERN.test(s);
}

/** The fragment as text; a damaged %-escape (a mangled link) is kept as is rather than breaking the page. */
function fragmentText(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

export interface SecretChoice {
  /** The secret to use, or null when there is none (an incomplete link). */
  secret: string | null;
  /** Keep `secret` for reloads of this tab (it came from the fragment). */
  keep: boolean;
  /** Take the fragment out of the address bar. */
  clearFragment: boolean;
}

/**
 * `hash` is `location.hash` ("" or "#…"), `stored` what this tab kept. A well-formed secret in the
 * fragment wins (a new link opened in the same tab); anything else leaves the stored one alone.
 */
export function chooseSecret(hash: string, stored: string | null): SecretChoice {
  const fragment = hash.length > 1 ? fragmentText(hash.slice(1)).trim() : '';
  if (isWellFormedSecret(fragment)) return { secret: fragment, keep: true, clearFragment: true };
  const kept = stored !== null && isWellFormedSecret(stored) ? stored : null;
  return { secret: kept, keep: false, clearFragment: fragment !== '' };
}
