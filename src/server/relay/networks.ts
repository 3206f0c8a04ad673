/**
 * Trusted client networks of the SMTP relay (`--smtp-trusted-networks`): a comma- or space-separated
 * list of CIDR blocks or single addresses, IPv4 or IPv6. Empty by default: no client is trusted for
 * being where it is, not even loopback, unless listed.
 */
import { BlockList, isIP } from 'node:net';

export interface Networks {
  /** The blocks as given, normalised ("10.0.0.0/8", "::1/128"). */
  readonly list: readonly string[];
  /** Is this client address inside one of the blocks? (IPv4-mapped IPv6 counts as IPv4.) */
  contains(address: string | undefined): boolean;
}

/** Parses the list; throws an Error naming the first entry that is not a block or an address. */
export function parseNetworks(text: string): Networks {
  const blocks = new BlockList();
  const list: string[] = [];
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const address = m?.[1] ?? '';
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = m?.[2] === undefined ? max : Number(m[2]);
    if (family === 0 || prefix > max)
      throw new Error(`"${entry.slice(0, 60)}" is not a network such as 10.0.0.0/8, 192.0.2.7 or fd00::/8`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    blocks.addSubnet(address, prefix, type);
    list.push(`${address}/${prefix}`);
  }
  return {
    list,
    contains(raw) {
      if (!raw) return false;
      const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw)?.[1] ?? raw;
      const family = isIP(address);
      if (family === 0) return false;
      return blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
