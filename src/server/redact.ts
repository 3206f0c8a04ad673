/**
 * The one rule for secrets in anything Sealpost shows: settings errors, `--help`, the start banner
 * and log lines. A password in a URL's user information (`scheme://user:PASSWORD@host`, also when
 * the URL is malformed: a typo must not print it) and a Sealpost API key (`sp_…`) become `***`.
 * Settings that are secret as a whole (the sealing key) are never shown at all (config.ts).
 */

const API_KEY = /\bsp_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
/** `user:` (after an optional scheme and slashes) and everything up to the token's last `@`. */
const USERINFO_PASSWORD = /((?:[a-z][a-z0-9+.-]*:)?\/*[^\s:@/]*:)\S*@/i;

function redactToken(token: string): string {
  const at = token.lastIndexOf('@');
  if (at < 0) return token;
  try {
    const u = new URL(token);
    if (u.password) {
      u.password = '***';
      return u.toString();
    }
  } catch {
    // Malformed: the textual rule below.
  }
  // Some `:` after the scheme's and before the `@` separates a user from a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(token)?.[0].length ?? 0;
  return token.slice(scheme, at).includes(':') ? token.replace(USERINFO_PASSWORD, '$1***@') : token;
}

/** `text` with URL passwords and API keys replaced by `***`. */
export function redactSecrets(text: string): string {
  return text.replace(API_KEY, 'sp_***').replace(/\S+/g, redactToken);
}
