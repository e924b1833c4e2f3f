import type {
  OpenAPIObject,
  OperationObject,
  ReferenceObject,
  ResponseObject,
  SecurityRequirementObject,
} from '@nestjs/swagger';
import { RETRY_AFTER } from '../api-error.decorator';
import { PUBLIC_OPERATION } from '../public.decorator';

type MarkedOperation = OperationObject & { [PUBLIC_OPERATION]?: boolean };

/** What the document says that depends on the deployment, so the served document is true of it. */
export interface DeploymentFacts {
  /** PUBLIC_BASE_URL: the one server clients should call; unset, the document's own origin. */
  publicBaseUrl?: string;
  /** Whether API_KEYS is set; without it a keyed operation also answers callers that present none. */
  apiKeysRequired: boolean;
}

export const API_KEY_SCHEMES = {
  'api-key': {
    type: 'apiKey' as const,
    in: 'header',
    name: 'X-API-Key',
    description: 'One of the keys in API_KEYS (when the deployment sets it)',
  },
  bearer: {
    type: 'http' as const,
    scheme: 'bearer',
    description: 'The same API key, sent as `Authorization: Bearer <key>`',
  },
};

/**
 * The session images' third way in: the signature of a URL the API handed out. (Its `expires` partner is
 * a plain query parameter; OpenAPI has no scheme for a pair.)
 */
export const SIGNED_URL_SCHEME = {
  'signed-url': {
    type: 'apiKey' as const,
    in: 'query',
    name: 'signature',
    description: 'The signature of an image URL from GET /status (with its `expires`): no key needed',
  },
};

/** Either scheme will do; a deployment without API_KEYS also takes no key at all (`{}`). */
export function apiKeySecurity(facts: DeploymentFacts): SecurityRequirementObject[] {
  const schemes = Object.keys(API_KEY_SCHEMES).map((name) => ({ [name]: [] }));
  return facts.apiKeysRequired ? schemes : [...schemes, {}];
}

const ENVELOPE = { $ref: '#/components/schemas/ErrorEnvelope' };

/** Error answers that do not depend on what an operation does, each a named response of the document. */
const SHARED_ERRORS: Record<number, { name: string } & ResponseObject> = {
  400: {
    name: 'BadRequest',
    description: 'Malformed request: a body that is not valid JSON or form data, or a forbidden field name',
  },
  401: {
    name: 'Unauthorized',
    description: 'API_KEYS is set and no valid key was presented (X-API-Key or Authorization: Bearer)',
  },
  413: { name: 'PayloadTooLarge', description: 'Request body over 1 MB' },
  415: { name: 'UnsupportedMediaType', description: 'Body in a content type or encoding not accepted here' },
  429: {
    name: 'TooManyRequests',
    description: 'Rate limit (RATE_LIMIT_PER_MINUTE per API key or client address) exceeded',
    headers: { 'Retry-After': { ...RETRY_AFTER, required: true } },
  },
  431: { name: 'RequestHeaderFieldsTooLarge', description: 'Request line or headers too large' },
  500: { name: 'InternalServerError', description: 'Unexpected error (no internals are shown)' },
  503: {
    name: 'ServiceUnavailable',
    description: 'Redis or the image storage is unreachable; retry shortly',
  },
};

/** Any request can be malformed or oversized, and anything can fail unexpectedly. */
export const EVERY_OPERATION = [400, 413, 415, 431, 500];
/** Keyed operations pass the API-key check and the rate limiter (counted in Redis) first. */
const KEYED_OPERATION = [401, 429, 503];

/** A reference to a shared error answer, for operations documented outside Nest (openapi/static-images.ts). */
export function sharedError(status: number): ReferenceObject {
  return { $ref: `#/components/responses/${SHARED_ERRORS[status].name}` };
}

/**
 * The rules every operation follows, applied to the document Nest built (in place): servers, the API-key
 * security requirement (none on public operations), the shared error answers, and request bodies that
 * reject unknown fields. New endpoints follow them without any decorator.
 */
export function applyConventions(document: OpenAPIObject, facts: DeploymentFacts): OpenAPIObject {
  document.servers = [
    facts.publicBaseUrl
      ? { url: facts.publicBaseUrl.replace(/\/+$/, ''), description: 'This deployment (PUBLIC_BASE_URL)' }
      : { url: '/', description: 'The origin this document was fetched from' },
  ];
  const components = (document.components ??= {});
  components.securitySchemes = { ...API_KEY_SCHEMES, ...SIGNED_URL_SCHEME };
  components.responses ??= {};
  for (const { name, ...response } of Object.values(SHARED_ERRORS)) {
    components.responses[name] = { ...response, content: { 'application/json': { schema: ENVELOPE } } };
  }
  for (const operation of operations(document) as Generator<MarkedOperation>) {
    const isPublic = operation[PUBLIC_OPERATION] === true;
    delete operation[PUBLIC_OPERATION];
    operation.security = isPublic ? [] : apiKeySecurity(facts);
    const shared = isPublic ? EVERY_OPERATION : [...EVERY_OPERATION, ...KEYED_OPERATION];
    operation.responses = withSharedErrors(operation.responses, shared);
    rejectUnknownFields(document, operation);
  }
  return document;
}

function* operations(document: OpenAPIObject): Generator<OperationObject> {
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const) {
      const operation = item[method];
      if (operation) yield operation;
    }
  }
}

/** The operation's own answers, plus the shared ones it lacks, in status order. */
export function withSharedErrors(
  own: OperationObject['responses'],
  statuses: number[],
): OperationObject['responses'] {
  const all = { ...own };
  for (const status of statuses) all[status] ??= sharedError(status);
  const ordered = Object.keys(all).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  return Object.fromEntries(ordered.map((status) => [status, all[status]]));
}

/** The validation pipe forbids fields a DTO does not declare, so its schema says so too. */
function rejectUnknownFields(document: OpenAPIObject, operation: OperationObject): void {
  const body = operation.requestBody;
  if (!body || '$ref' in body) return;
  for (const { schema } of Object.values(body.content)) {
    const name = schema && '$ref' in schema ? schema.$ref.split('/').pop() : undefined;
    const target = name ? document.components?.schemas?.[name] : undefined;
    if (target && !('$ref' in target)) target.additionalProperties = false;
  }
}
