import * as dns from 'node:dns';
import { accessFor, HostRule, isPrivateAddress, parseHostRules } from '../providers/http/host-policy';

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** Where a delivery connects: the URL, and for a host matched only by a wildcard the address it was vetted at. */
export interface CallbackTarget {
  url: URL;
  pinned: ResolvedAddress | undefined;
}

/** A callback_url the policy refuses; the message is safe to show to the client. */
export class CallbackUrlRefused extends Error {}

const MAX_URL_LENGTH = 2048;

/**
 * Which callback URLs webhooks may be sent to: WEBHOOK_ALLOWED_HOSTS, with the syntax and the SSRF rules of
 * IMAGE_DOWNLOAD_ALLOWED_HOSTS (src/providers/http/host-policy.ts). A host named exactly is trusted; a host
 * matched only by a `*.suffix` wildcard must resolve to public addresses only. The check runs when the
 * session is created (so a bad URL is a 400) and again before each delivery, whose connection is pinned to
 * the vetted address: a DNS answer that changes in between (DNS rebinding) cannot reach the internal network.
 */
export class CallbackUrlPolicy {
  private readonly rules: HostRule[];

  constructor(
    allowedHosts: string[],
    private readonly resolve: Resolver = (hostname) =>
      dns.promises.lookup(hostname, { all: true, verbatim: true }),
  ) {
    this.rules = parseHostRules(allowedHosts);
  }

  /** The URL's target, or CallbackUrlRefused saying why it may not be called. */
  async target(raw: string): Promise<CallbackTarget> {
    const url = parseCallbackUrl(raw);
    const access = accessFor(url, this.rules);
    if (!access.allowed)
      throw new CallbackUrlRefused(`callback_url host ${url.host} is not in WEBHOOK_ALLOWED_HOSTS`);
    if (access.trusted) return { url, pinned: undefined };
    return { url, pinned: await this.publicAddress(url.hostname) };
  }

  private async publicAddress(hostname: string): Promise<ResolvedAddress> {
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolve(hostname.replace(/^\[|\]$/g, ''));
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw new CallbackUrlRefused(`callback_url host ${hostname} did not resolve`);
    if (addresses.some((a) => isPrivateAddress(a.address)))
      throw new CallbackUrlRefused(`callback_url host ${hostname} resolves to a private address; refused`);
    return addresses[0];
  }
}

function parseCallbackUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH)
    throw new CallbackUrlRefused(`callback_url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CallbackUrlRefused('callback_url must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CallbackUrlRefused('callback_url must be an absolute http or https URL');
  // Credentials in the URL would be shown in GET /status and sent on every delivery.
  if (url.username || url.password) throw new CallbackUrlRefused('callback_url must not contain credentials');
  return url;
}
