import { BlockList, isIP } from 'node:net';

/**
 * Which hosts the download worker may fetch from. Entries of IMAGE_DOWNLOAD_ALLOWED_HOSTS are
 * `host`, `host:port`, `[ipv6]:port` or `*.suffix[:port]`, matched case-insensitively; an entry without a
 * port allows only the standard ports (443 for https, 80 for http), so naming a host does not open its
 * other services. A host named exactly is trusted, whatever it resolves to (that is how a local
 * fake or an internal mirror is allowed). A host matched only by a wildcard must resolve to public
 * addresses, so a wildcard cannot be used to reach the internal network (SSRF, DNS rebinding).
 */
export interface HostRule {
  host: string;
  port: number | undefined;
  wildcard: boolean;
}

export type HostAccess = { allowed: false } | { allowed: true; trusted: boolean };

export function parseHostRules(entries: string[]): HostRule[] {
  return entries
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .map((entry) => {
      const wildcard = entry.startsWith('*.');
      const rest = wildcard ? entry.slice(2) : entry;
      if (isIP(rest) === 6) return { host: ipv6Host(rest), port: undefined, wildcard };
      const bracketed = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(rest);
      if (bracketed) return { host: ipv6Host(bracketed[1]), port: portOf(bracketed[2]), wildcard };
      const colon = rest.lastIndexOf(':');
      if (colon > 0 && rest.indexOf(':') === colon && /^\d+$/.test(rest.slice(colon + 1))) {
        return { host: rest.slice(0, colon), port: portOf(rest.slice(colon + 1)), wildcard };
      }
      return { host: rest, port: undefined, wildcard };
    });
}

export function accessFor(url: URL, rules: HostRule[]): HostAccess {
  const host = url.hostname.toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const standardPort = port === (url.protocol === 'https:' ? 443 : 80);
  const portMatches = (rule: HostRule) => (rule.port === undefined ? standardPort : rule.port === port);
  if (rules.some((rule) => !rule.wildcard && rule.host === host && portMatches(rule))) {
    return { allowed: true, trusted: true };
  }
  if (rules.some((rule) => rule.wildcard && host.endsWith(`.${rule.host}`) && portMatches(rule))) {
    return { allowed: true, trusted: false };
  }
  return { allowed: false };
}

/**
 * An IPv6 address as URL.hostname writes it: in brackets and in its shortest form, so that an entry
 * `[0:0:0:0:0:0:0:1]:8080` matches `http://[::1]:8080/`. Text that is no address stays as it was (and
 * matches nothing).
 */
function ipv6Host(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname : `[${address}]`;
}

function portOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata endpoints
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified, loopback, and IPv4-compatible (deprecated) addresses
  ['64:ff9b::', 96], // NAT64: a gateway would reach whichever IPv4 address it carries
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2002::', 16], // 6to4: the same, through a relay
  ['2001::', 32], // Teredo: an IPv4 address and port, through a relay
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['fc00::', 7], // unique local
  ['fec0::', 10], // site-local (deprecated, still routed by some networks)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/**
 * True for loopback, private, link-local, multicast and reserved addresses. IPv6 prefixes that carry an
 * IPv4 address to a translator (IPv4-compatible, NAT64, 6to4) are refused whole: a gateway on the path
 * decides where they lead. An IPv4-mapped address is the IPv4 address it maps, and is judged as one.
 */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 4) return PRIVATE.check(bare, 'ipv4');
  if (family !== 6) return true; // not an IP address at all: never treat as safe
  if (PRIVATE.check(bare, 'ipv6')) return true;
  const mapped = mappedIPv4(bare);
  return mapped !== null && PRIVATE.check(mapped, 'ipv4');
}

/** The IPv4 address of an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else null. */
function mappedIPv4(ipv6: string): string | null {
  const words = ipv6Words(ipv6);
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return v4(words[6], words[7]);
  return null;
}

/** The eight 16-bit words of a valid IPv6 address (a trailing dotted IPv4 part included). */
function ipv6Words(ipv6: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ipv6);
  const text = dotted
    ? ipv6.slice(0, dotted.index) +
      `${((+dotted[1] << 8) | +dotted[2]).toString(16)}:${((+dotted[3] << 8) | +dotted[4]).toString(16)}`
    : ipv6;
  const [head, tail] = text.split('::');
  const part = (p: string | undefined) => (p ? p.split(':').map((w) => parseInt(w, 16)) : []);
  const [before, after] = [part(head), part(tail)];
  return tail === undefined
    ? before
    : [...before, ...Array(8 - before.length - after.length).fill(0), ...after];
}
