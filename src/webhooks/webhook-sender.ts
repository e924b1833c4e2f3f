import * as http from 'node:http';
import * as https from 'node:https';
import { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { CallbackTarget, ResolvedAddress } from './callback-url-policy';

/** What one attempt got: the receiver's status, or no answer at all (and why, for the logs). */
export type SendOutcome = { statusCode: number } | { statusCode: null; problem: string };

/**
 * Sends one signed webhook request (Standard Webhooks, https://www.standardwebhooks.com/): `webhook-id`,
 * `webhook-timestamp` (this attempt's time, which receivers check against replays) and
 * `webhook-signature` over `id.timestamp.body`. Redirects are never followed: a 3xx is an answer like
 * any other, and a receiver cannot send the signed body on to another host. The whole attempt, answer
 * included, has one deadline.
 */
export class WebhookSender {
  private readonly signer: Webhook;

  constructor(
    secret: string,
    private readonly timeoutMs: number,
  ) {
    this.signer = new Webhook(secret);
  }

  send(target: CallbackTarget, webhookId: string, body: string): Promise<SendOutcome> {
    const now = new Date();
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'story-to-image-generator-webhooks',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.signer.sign(webhookId, now, body),
    };
    const client = target.url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const request = client.request(target.url, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(target.pinned ? { lookup: pinnedLookup(target.pinned) } : {}),
      });
      request.once('response', (response) => {
        // Only the status matters; the body is drained, whatever it holds.
        response.resume();
        resolve({ statusCode: response.statusCode ?? 0 });
      });
      request.once('error', (err: NodeJS.ErrnoException) => {
        const problem =
          err.name === 'AbortError' || err.name === 'TimeoutError'
            ? `no answer within ${this.timeoutMs} ms`
            : `request failed${err.code ? ` (${err.code})` : ''}`;
        resolve({ statusCode: null, problem });
      });
      request.end(body);
    });
  }
}

/** Connects to the address that passed the private-address check, so a second DNS answer cannot differ. */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}
