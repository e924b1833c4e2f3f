import {
  CallbackUrlPolicy,
  CallbackUrlRefused,
  ResolvedAddress,
} from '../../src/webhooks/callback-url-policy';

/** A resolver scripted per host name, counting its calls: the policy's only outside system. */
function resolverOf(answers: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve = (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const addresses = answers[hostname];
    if (!addresses) return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return { resolve, calls };
}

describe('CallbackUrlPolicy', () => {
  const dns = resolverOf({
    'hooks.example.com': ['93.184.216.34'],
    'evil.example.com': ['10.0.0.5'],
    'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
  });
  const policy = new CallbackUrlPolicy(['internal-hooks:8080', '*.example.com'], dns.resolve);
  const refusal = async (url: string) => {
    const err = await policy.target(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallbackUrlRefused);
    return (err as Error).message;
  };

  it('trusts a host named exactly, without resolving it (an internal receiver)', async () => {
    const target = await policy.target('http://internal-hooks:8080/in');
    expect(target.pinned).toBeUndefined();
    expect(dns.calls).not.toContain('internal-hooks');
  });

  it('pins a wildcard-matched host to the public address it resolved to', async () => {
    const target = await policy.target('https://hooks.example.com/storyboard');
    expect(target.pinned).toEqual({ address: '93.184.216.34', family: 4 });
  });

  it('refuses a wildcard-matched host that resolves to any private address', async () => {
    expect(await refusal('https://evil.example.com/')).toMatch(/private address/);
    expect(await refusal('https://mixed.example.com/')).toMatch(/private address/);
    expect(await refusal('https://nowhere.example.com/')).toMatch(/did not resolve/);
  });

  it('refuses hosts and ports not listed, other schemes and credentials', async () => {
    expect(await refusal('https://example.org/')).toMatch(/not in WEBHOOK_ALLOWED_HOSTS/);
    expect(await refusal('http://internal-hooks/in')).toMatch(/not in WEBHOOK_ALLOWED_HOSTS/);
    expect(await refusal('https://hooks.example.com:8443/')).toMatch(/not in WEBHOOK_ALLOWED_HOSTS/);
    expect(await refusal('ftp://hooks.example.com/')).toMatch(/http or https/);
    expect(await refusal('https://user:pw@hooks.example.com/')).toMatch(/credentials/);
    expect(await refusal(`https://hooks.example.com/${'a'.repeat(2100)}`)).toMatch(/at most 2048/);
  });

  it('accepts nothing with an empty allowlist', async () => {
    const none = new CallbackUrlPolicy([], dns.resolve);
    await expect(none.target('https://hooks.example.com/')).rejects.toBeInstanceOf(CallbackUrlRefused);
  });
});
