import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { WebhookSender } from '../../src/webhooks/webhook-sender';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('WebhookSender', () => {
  const seen: { url: string; host: string | undefined; headers: http.IncomingHttpHeaders; body: string }[] =
    [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        url: req.url ?? '',
        host: req.headers.host,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      if (req.url === '/moved') res.writeHead(302, { location: '/elsewhere' }).end();
      else if (req.url === '/hang')
        return; // never answers
      else res.writeHead(204).end();
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => (seen.length = 0));

  const sender = new WebhookSender(SECRET, 300);
  // A name that resolves nowhere: the request can only arrive through the pinned address.
  const pinnedTarget = (path: string) => ({
    url: new URL(`http://hooks.invalid:${port}${path}`),
    pinned: { address: '127.0.0.1', family: 4 },
  });

  it('connects to the pinned address and sends a body receivers verify with standardwebhooks', async () => {
    const body = JSON.stringify({ type: 'session.completed', timestamp: new Date().toISOString(), data: {} });
    expect(await sender.send(pinnedTarget('/in'), 'msg_abc', body)).toEqual({ statusCode: 204 });
    expect(seen).toHaveLength(1);
    expect(seen[0].host).toBe(`hooks.invalid:${port}`);
    expect(seen[0].headers['webhook-id']).toBe('msg_abc');
    expect(() =>
      new Webhook(SECRET).verify(seen[0].body, {
        'webhook-id': String(seen[0].headers['webhook-id']),
        'webhook-timestamp': String(seen[0].headers['webhook-timestamp']),
        'webhook-signature': String(seen[0].headers['webhook-signature']),
      }),
    ).not.toThrow();
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    expect(await sender.send(pinnedTarget('/moved'), 'msg_r', '{}')).toEqual({ statusCode: 302 });
    expect(seen.map((s) => s.url)).toEqual(['/moved']);
  });

  it('gives up on a receiver that does not answer within the deadline', async () => {
    const outcome = await sender.send(pinnedTarget('/hang'), 'msg_h', '{}');
    expect(outcome).toEqual({ statusCode: null, problem: 'no answer within 300 ms' });
  });
});
