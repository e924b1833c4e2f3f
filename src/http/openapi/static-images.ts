import type { OperationObject, ParameterObject, PathsObject } from '@nestjs/swagger';
import {
  apiKeySecurity,
  DeploymentFacts,
  EVERY_OPERATION,
  sharedError,
  withSharedErrors,
} from './conventions';

/** Formats the renderers and the download job write (src/storage/image-keys.ts names them). */
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
const BINARY = { schema: { type: 'string', format: 'binary' } };
const ENVELOPE = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } };

const PARAMETERS: ParameterObject[] = [
  { name: 'session_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
  {
    name: 'file',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^scene_\\d{2,3}\\.(png|jpg|webp|gif)$' },
    example: 'scene_01.png',
  },
  {
    name: 'expires',
    in: 'query',
    required: false,
    description: 'Part of a signed URL (API_KEYS set): when it stops working, in Unix seconds',
    schema: { type: 'integer' },
  },
  {
    name: 'signature',
    in: 'query',
    required: false,
    description:
      'Part of a signed URL: an HMAC of the path and `expires`. With it, no API key is needed, so an ' +
      '`<img>` tag can load the image',
    schema: { type: 'string' },
  },
  {
    name: 'Range',
    in: 'header',
    required: false,
    description: 'One byte range, e.g. `bytes=0-1023`',
    schema: { type: 'string' },
  },
  {
    name: 'If-None-Match',
    in: 'header',
    required: false,
    description: 'The ETag of a copy the client has: answered 304 while it is current',
    schema: { type: 'string' },
  },
];

/**
 * The session images, read from the image storage (a folder or a bucket) by images/static-images.controller.ts,
 * with answers (ranges, validators) Nest's decorators cannot express: this is their description. With
 * API_KEYS set they take the owner's key or a signed URL (the URLs GET /status gives are signed); they are
 * rate limited like the rest. An image storage outage is a 503.
 */
function imageOperation(operationId: string, summary: string, facts: DeploymentFacts): OperationObject {
  const content = Object.fromEntries(IMAGE_TYPES.map((type) => [type, BINARY]));
  return {
    operationId,
    summary,
    tags: ['images'],
    parameters: PARAMETERS,
    // Signed URLs exist only where keys do; without keys every request is let in anyway.
    security: facts.apiKeysRequired
      ? [...apiKeySecurity(facts), { 'signed-url': [] }]
      : apiKeySecurity(facts),
    responses: withSharedErrors(
      {
        200: {
          description:
            'The image, cacheable for an hour (`private` when API_KEYS is set: only the client may keep it)',
          headers: { ETag: { schema: { type: 'string' } }, 'Accept-Ranges': { schema: { type: 'string' } } },
          content,
        },
        206: {
          description: 'The requested byte range',
          headers: { 'Content-Range': { required: true, schema: { type: 'string' } } },
          content,
        },
        304: { description: 'Unchanged since the ETag sent in If-None-Match' },
        401: {
          description: 'API_KEYS is set, and neither a valid key nor a signature was presented',
          content: ENVELOPE,
        },
        403: { description: 'The signature is invalid, or the signed URL has expired', content: ENVELOPE },
        404: { description: "No such file, or another API key's session", content: ENVELOPE },
        429: sharedError(429),
        412: { description: 'An If-Match or If-Unmodified-Since precondition failed', content: ENVELOPE },
        416: {
          description: 'Range not satisfiable; Content-Range gives the file size (`bytes */<size>`)',
          headers: { 'Content-Range': { required: true, schema: { type: 'string' } } },
          content: ENVELOPE,
        },
        503: {
          description: 'The image storage is unreachable; retry after Retry-After seconds',
          headers: { 'Retry-After': { required: true, schema: { type: 'integer', minimum: 1 } } },
          content: ENVELOPE,
        },
      },
      EVERY_OPERATION,
    ),
  };
}

export function staticImagePaths(facts: DeploymentFacts): PathsObject {
  return {
    '/static/{session_id}/{file}': {
      get: imageOperation(
        'getDownloadedImage',
        "An approved scene's downloaded image (a scene's `download.file_url`)",
        facts,
      ),
    },
    '/static/{session_id}/renders/{file}': {
      get: imageOperation(
        'getRenderedImage',
        "An image rendered by the offline renderer (a scene's `image_url`)",
        facts,
      ),
    },
  };
}
