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
      if (isIP(rest) === 6) return { host: `[${rest}]`, port: undefined, wildcard }; // URL.hostname has brackets
      const bracketed = /^(\[[0-9a-f:.]+\])(?::(\d+))?$/.exec(rest);
      if (bracketed) return { host: bracketed[1], port: portOf(bracketed[2]), wildcard };
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
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/** True for loopback, private, link-local, multicast and reserved addresses (IPv4-mapped IPv6 included). */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return PRIVATE.check(mapped[1], 'ipv4');
  const family = isIP(bare);
  if (family === 4) return PRIVATE.check(bare, 'ipv4');
  if (family === 6) return PRIVATE.check(bare, 'ipv6');
  return true; // not an IP address at all: never treat as safe
}
