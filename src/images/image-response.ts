import { Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { ByteRange, ImageNotFoundError, ImageStorage, StoredImageInfo } from '../storage/image-storage';
import { sendEnvelope } from '../http/error-envelope.filter';

const logger = new Logger('Static');

/** A refusal with its HTTP status (and headers to keep), answered with the envelope by answerImageError. */
export class StaticRefusal extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(STATUS_CODES[status]);
  }
}

/**
 * One stored image as an HTTP answer, read through the image storage whatever the driver, so URLs are the
 * same with a local folder or a bucket. What Express's static server did is kept: ETag and Last-Modified
 * validators (304), If-Match and If-Unmodified-Since (412), one byte range (206, or 416 with the size),
 * If-Range, an hour of caching (`cacheControl` says for whom).
 */
export async function serveImage(
  storage: ImageStorage,
  key: string,
  cacheControl: string,
  req: Request,
  res: Response,
): Promise<void> {
  const info = await storage.info(key);
  if (!info) throw new StaticRefusal(404);
  if (preconditionFails(req, info)) throw new StaticRefusal(412);

  res.setHeader('Content-Type', info.contentType);
  res.setHeader('ETag', info.etag);
  res.setHeader('Last-Modified', info.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', cacheControl);
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  const range = requestedRange(req, info);
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(info.size));
  }
  if (req.method === 'HEAD' || info.size === 0) {
    res.end();
    return;
  }
  let body;
  try {
    // Never more than Content-Length announced, even if the image was replaced since the lookup.
    body = await storage.read(key, range ?? { start: 0, end: info.size - 1 });
  } catch (err) {
    // Removed between the lookup and the read (an expiry sweep): still a missing image.
    if (err instanceof ImageNotFoundError) throw new StaticRefusal(404);
    throw err;
  }
  try {
    await pipeline(body, res);
  } catch {
    // The client went away, or the storage failed mid-stream: the response is cut short, which the
    // client sees against Content-Length. Nothing more can be answered.
    res.destroy();
  }
}

/** One satisfiable byte range, null for the whole image; 416 for a range past the end. */
function requestedRange(req: Request, info: StoredImageInfo): ByteRange | null {
  if (!req.headers.range || !rangeStillApplies(req, info)) return null;
  const ranges = req.range(info.size, { combine: true });
  if (ranges === -1) throw new StaticRefusal(416, { 'Content-Range': `bytes */${info.size}` });
  // Malformed, another unit, or several ranges: the whole image, as Express's static server did.
  if (ranges === -2 || ranges === undefined || ranges.type !== 'bytes' || ranges.length !== 1) return null;
  return { start: ranges[0].start, end: ranges[0].end };
}

/** If-Range: the range applies only to the copy the client names. */
function rangeStillApplies(req: Request, info: StoredImageInfo): boolean {
  const ifRange = req.get('if-range');
  if (!ifRange) return true;
  if (ifRange.includes('"')) return ifRange === info.etag;
  return Math.floor(info.lastModified.getTime() / 1000) <= Math.floor(Date.parse(ifRange) / 1000);
}

function preconditionFails(req: Request, info: StoredImageInfo): boolean {
  const ifMatch = req.headers['if-match'];
  if (ifMatch && ifMatch.trim() !== '*') {
    const strong = info.etag.replace(/^W\//, '');
    const tags = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
    return !tags.includes(strong);
  }
  const unmodifiedSince = Date.parse(req.headers['if-unmodified-since'] ?? '');
  return !Number.isNaN(unmodifiedSince) && info.lastModified.getTime() - 999 > unmodifiedSince;
}

/** Refusals and failures with the error envelope; a storage outage is a 503, never a 500. */
export function answerImageError(err: unknown, res: Response): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof StaticRefusal) {
    const message = err.status === 404 ? 'File not found' : (STATUS_CODES[err.status] ?? 'Bad request');
    sendEnvelope(res, err.status, message, err.headers);
    return;
  }
  logger.warn(`Image storage unavailable: ${err instanceof Error ? err.message : String(err)}`);
  res.setHeader('Retry-After', '5');
  sendEnvelope(res, 503, 'The image storage is unavailable; retry shortly');
}
