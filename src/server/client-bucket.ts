/**
 * The key per-address limits count a client under: its IPv4 address, or for IPv6 the /64 network it
 * is in. A single IPv6 host usually owns a whole /64 (SLAAC, privacy addresses) and can pick a new
 * address for every request, so counting per IPv6 address would let it step around every per-address
 * limit; a /64 is what one subscriber or one server is given. IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.7`, what a dual-stack socket reports for an IPv4 client) count as the IPv4 address.
 *
 * Used by every per-address limit: HTTP requests, submissions, wrong link secrets and concurrent
 * SMTP connections.
 */
import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (zone index dropped); null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  const plain = address.replace(/%.*$/, '');
  if (isIP(plain) !== 6) return null;
  // A trailing dotted IPv4 part ("::ffff:192.0.2.7", "64:ff9b::192.0.2.7") becomes two groups.
  let text = plain;
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(plain);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    text = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const part = (s: string | undefined): number[] =>
    s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16));
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  return groups.length === 8 ? groups : null;
}

/**
 * "192.0.2.7" → "192.0.2.7"; "::ffff:192.0.2.7" → "192.0.2.7";
 * "2001:db8:1:2:aaaa::1" → "2001:db8:1:2::/64". Anything else (no address, a Unix socket) is
 * returned as it is.
 */
export function clientBucket(address: string | undefined): string {
  if (!address) return '';
  if (isIP(address) === 4) return address;
  const g = ipv6Groups(address);
  if (!g) return address;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const [hi, lo] = [g[6]!, g[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
