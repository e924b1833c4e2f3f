import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { S3Config, redactUrl } from '../../config/app-config';
import { forEachWithLimit } from '../../common/concurrency';
import { contentTypeOfKey, isStoredKey } from '../image-keys';
import {
  ByteRange,
  ImageNotFoundError,
  ImageStorage,
  StoredImage,
  StoredImageInfo,
  StorageUnavailableError,
} from '../image-storage';
import { measure, measured } from '../measured';

const CHECK_TIMEOUT_MS = 5_000;
const DELETE_CONCURRENCY = 16;
/** lib-storage's smallest part: an image below it goes up in one PutObject, a larger one in parts. */
const PART_BYTES = 5 * 1024 * 1024;

/** The driver's client settings (exported for bench/probes/s3-read-cost.ts). */
export function s3ClientConfig(config: S3Config): S3ClientConfig {
  return {
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: config.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Each command class's middleware stack is resolved once instead of on every call: about 0.2 ms less
    // CPU per call (bench/probes/s3-read-cost.ts). Safe while every call of a class shares one bucket and
    // one configuration and nothing changes a stack; a call with options (check()'s abort signal) resolves
    // its own and empties the cache, which the next calls fill again.
    cacheMiddleware: true,
    requestHandler: {
      connectionTimeout: 5_000,
      // Until the response headers: a bucket that accepts the connection and then stalls fails the call.
      requestTimeout: 30_000,
      throwOnRequestTimeout: true,
      // Between bytes of a body, read-ahead exports included (they wait while earlier images go out).
      socketTimeout: 120_000,
      // Exports hold a few GETs each: the SDK's default pool of 50 would starve /static and the probes.
      httpAgent: { keepAlive: true, maxSockets: 256 },
    },
  };
}

/**
 * Images as objects `<S3_PREFIX><key>` in one bucket that every API and worker process shares, so no
 * process needs a disk of its own.
 *
 * Checksums are sent and checked only where S3 requires them (`WHEN_REQUIRED`): since early 2025 the SDK
 * adds CRC checksums (and aws-chunked uploads) to every request by default, which many S3-compatible
 * servers refuse. The export checks its own CRC-32 of every image it sends, recorded at write time.
 * Objects are deleted one by one: DeleteObjects needs Content-MD5 or a flexible checksum, and servers
 * differ on which they accept.
 */
export class S3ImageStorage implements ImageStorage {
  readonly driver = 's3';
  /** Measured: `BENCH_ONLY=export-s3 npm run bench` (2.14 opening one ahead, 1.79 with four). */
  readonly readAhead = 4;
  readonly location: string;
  private readonly client: S3Client;

  constructor(private readonly config: S3Config) {
    quietenNodeVersionWarning();
    const where = config.endpoint ? redactUrl(config.endpoint) : `AWS ${config.region}`;
    this.location = `s3://${config.bucket}/${config.prefix} at ${where}`;
    this.client = new S3Client(s3ClientConfig(config));
  }

  async write(key: string, data: Buffer | AsyncIterable<Buffer>, contentType: string): Promise<StoredImage> {
    const Key = this.objectKey(key);
    if (Buffer.isBuffer(data)) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key,
          Body: data,
          ContentLength: data.length,
          ContentType: contentType,
        }),
      );
      return measure(data);
    }
    // Streamed: parts are buffered up to PART_BYTES, so a small image is still one PutObject, and a failed
    // stream aborts the multipart upload instead of leaving parts (or a partial object) behind.
    const { chunks, result, sourceFailure } = measured(data);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key, Body: Readable.from(chunks), ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      // lib-storage reports the abort's own failure, if any, instead of why the body failed.
      throw sourceFailure() ?? err;
    }
    return result();
  }

  async info(key: string): Promise<StoredImageInfo | null> {
    if (!isStoredKey(key)) return null;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }),
      );
      return {
        size: head.ContentLength ?? 0,
        contentType: head.ContentType ?? contentTypeOfKey(key),
        etag: head.ETag ?? `"${head.ContentLength}"`,
        lastModified: head.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (!isStoredKey(key)) throw new ImageNotFoundError(key);
    try {
      const object = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key: this.objectKey(key),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return object.Body as Readable;
    } catch (err) {
      if (statusOf(err) === 404) throw new ImageNotFoundError(key);
      throw err;
    }
  }

  async sizes(sessionId: string): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (const object of await this.listSession(sessionId)) {
      const key = object.key.slice(this.config.prefix.length);
      if (isStoredKey(key)) sizes.set(key, object.size);
    }
    return sizes;
  }

  async remove(key: string): Promise<void> {
    if (!isStoredKey(key)) return;
    // S3 answers 204 for a key that is not there, so a repeated removal is not an error.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }));
  }

  async removeSession(sessionId: string): Promise<void> {
    const objects = await this.listSession(sessionId);
    await forEachWithLimit(objects, DELETE_CONCURRENCY, async ({ key }) => {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
    });
  }

  /** Every object under `<prefix><sessionId>/`, by full object key, a page of up to 1,000 per request. */
  private async listSession(sessionId: string): Promise<{ key: string; size: number }[]> {
    const objects: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: `${this.config.prefix}${sessionId}/`,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key) objects.push({ key: object.Key, size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }), {
        abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
      });
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return `${this.config.prefix}${key}`;
  }

  /** One line that says what to fix; never a credential. */
  private unavailable(err: unknown): StorageUnavailableError {
    const bucket = `S3 bucket "${this.config.bucket}"`;
    const where = this.config.endpoint ? `at ${redactUrl(this.config.endpoint)}` : `in ${this.config.region}`;
    const status = statusOf(err);
    if (status === 404) return new StorageUnavailableError(`${bucket} does not exist ${where}`, 'S3_BUCKET');
    if (status === 401 || status === 403) {
      return new StorageUnavailableError(
        `${bucket} ${where} refused the credentials (${this.credentialSource()})`,
        this.config.credentials ? 'S3_ACCESS_KEY_ID' : undefined,
      );
    }
    if (status === 301 || status === 400) {
      return new StorageUnavailableError(
        `${bucket} ${where} answered HTTP ${status}: check S3_REGION and S3_FORCE_PATH_STYLE`,
        'S3_REGION',
      );
    }
    const name = (err as Error | undefined)?.name;
    if (name === 'CredentialsProviderError') {
      return new StorageUnavailableError(
        `no S3 credentials: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or give the process an AWS credential (role, profile, environment)`,
        'S3_ACCESS_KEY_ID',
      );
    }
    const code = (err as { code?: string } | undefined)?.code;
    const reason =
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s`
        : (code ?? (status ? `HTTP ${status}` : (name ?? 'unknown error')));
    return new StorageUnavailableError(`${bucket} ${where} is unreachable (${reason})`);
  }

  private credentialSource(): string {
    return this.config.credentials
      ? 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY'
      : "the AWS SDK's default credential chain";
  }
}

/**
 * On Node 20 the SDK prints a seven-line warning on stderr that its releases after early January 2027 need
 * Node 22. The versions pinned in package.json run on Node 20 (the README's runtime section says so), and
 * the warning would break the one-line start-up errors, so it is turned off unless the operator set it.
 */
function quietenNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
