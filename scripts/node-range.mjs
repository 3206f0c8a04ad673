// Whether a Node.js version satisfies package.json's `engines.node`, before `npm install` has run (so
// no `semver`): the range forms our own `engines` uses — `||` alternatives of space-separated
// comparators `^X.Y.Z`, `>=X[.Y.Z]`, `<X[.Y.Z]`, `X.x`. Anything else throws rather than guessing.
// test/foundation/engines.test.ts checks it against the semver package.

/** [major, minor, patch] of "v20.19.0", "20.19" or "20". */
function parse(v) {
  const m = /^v?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(v.trim());
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), m[2] && m[2] !== 'x' ? Number(m[2]) : 0, m[3] && m[3] !== 'x' ? Number(m[3]) : 0];
}

function cmp(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

function comparator(version, c) {
  let m;
  if ((m = /^\^(.+)$/.exec(c))) {
    const base = parse(m[1]);
    return version[0] === base[0] && cmp(version, base) >= 0;
  }
  if ((m = /^>=\s*(.+)$/.exec(c))) return cmp(version, parse(m[1])) >= 0;
  if ((m = /^<\s*(.+)$/.exec(c))) return cmp(version, parse(m[1])) < 0;
  if ((m = /^(\d+)\.x$/.exec(c))) return version[0] === Number(m[1]);
  throw new Error(`unsupported range comparator in engines.node: ${c}`);
}

export function satisfiesNodeRange(version, range) {
  const v = parse(version);
  return range
    .split('||')
    .map((alt) => alt.trim().split(/\s+/).filter(Boolean))
    .some((alt) => alt.length > 0 && alt.every((c) => comparator(v, c)));
}
