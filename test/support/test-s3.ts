import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
// s3rver ships no types; only its constructor, run() and close() are used.
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
};

// The SDK's seven-line notice that releases after January 2027 need Node 22 (the pinned one runs on 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';

/** What a request to the bucket carried, as the strict front saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  refused: string | null;
}

/**
 * A real S3-compatible server (s3rver, from npm) behind a front that behaves like the many S3-compatible
 * servers that predate the SDK's default flexible checksums: a request with `x-amz-checksum-*`,
 * `x-amz-sdk-checksum-algorithm` or an aws-chunked body is refused with 400, as they do. The front also
 * lets a test take the bucket away (`goDown()`) and give it back.
 */
export class TestS3 {
  readonly bucket = `sig-${randomBytes(4).toString('hex')}`;
  readonly requests: SeenRequest[] = [];
  endpoint = '';
  private down = false;
  private heldGets: (() => void)[] | null = null;
  private readonly front: http.Server;
  private readonly client: () => S3Client;
  private backendPort = 0;
  private s3rver?: { close(): Promise<void> };
  private readonly directory = mkdtempSync(path.join(tmpdir(), 'sig-s3-'));

  constructor() {
    this.front = http.createServer((req, res) => this.forward(req, res));
    let client: S3Client | undefined;
    this.client = () =>
      (client ??= new S3Client({
        endpoint: this.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }));
  }

  async start(): Promise<this> {
    const server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: this.directory,
      configureBuckets: [{ name: this.bucket }],
    });
    this.backendPort = (await server.run()).port;
    this.s3rver = server;
    await new Promise<void>((resolve) => this.front.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.front.address() as AddressInfo).port}`;
    return this;
  }

  /** The service's variables for this bucket, with its own key prefix. */
  vars(prefix: string): Record<string, string> {
    return {
      STORAGE_DRIVER: 's3',
      S3_BUCKET: this.bucket,
      S3_ENDPOINT: this.endpoint,
      S3_ACCESS_KEY_ID: S3_ACCESS_KEY,
      S3_SECRET_ACCESS_KEY: S3_SECRET_KEY,
      S3_PREFIX: prefix,
    };
  }

  /** Every object key under `prefix`. */
  async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client().send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async object(key: string): Promise<Buffer> {
    const object = await this.client().send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  }

  /** Requests refused for carrying checksum headers the old servers do not know. */
  refused(): SeenRequest[] {
    return this.requests.filter((seen) => seen.refused !== null);
  }

  /** Every request answers 503 until `comeBack()`, as a bucket in an outage would. */
  goDown(): void {
    this.down = true;
  }

  comeBack(): void {
    this.down = false;
  }

  /** Object GETs wait until `releaseGets()`: a slow bucket, without a timer to race. */
  holdGets(): void {
    this.heldGets ??= [];
  }

  releaseGets(): void {
    const waiting = this.heldGets ?? [];
    this.heldGets = null;
    waiting.forEach((send) => send());
  }

  async close(): Promise<void> {
    this.client().destroy();
    this.front.closeAllConnections();
    await new Promise<void>((resolve) => this.front.close(() => resolve()));
    await this.s3rver?.close();
    rmSync(this.directory, { recursive: true, force: true });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const refused = checksumHeaderOf(req);
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', refused });
    if (this.down || refused) {
      req.resume();
      const [status, code] = this.down ? [503, 'ServiceUnavailable'] : [400, 'InvalidArgument'];
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${refused ?? 'down'}</Message></Error>`,
      );
      return;
    }
    if (this.heldGets && req.method === 'GET' && !/list-type=|uploads|uploadId=/.test(req.url ?? '')) {
      this.heldGets.push(() => this.pass(req, res));
      return;
    }
    this.pass(req, res);
  }

  private pass(req: http.IncomingMessage, res: http.ServerResponse): void {
    // The Host header is passed on as signed, so the signature still verifies.
    const upstream = http.request(
      { host: '127.0.0.1', port: this.backendPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}

function checksumHeaderOf(req: http.IncomingMessage): string | null {
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-amz-checksum-') || name === 'x-amz-sdk-checksum-algorithm')
      return `header ${name}`;
  }
  if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) return 'aws-chunked body';
  if (String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-'))
    return 'streaming signature';
  return null;
}

export async function startTestS3(): Promise<TestS3> {
  return new TestS3().start();
}
