import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MEDIA_TYPES } from '../../src/domain/session.model';
import { MAX_SCENES } from '../../src/generation/generate-request.dto';
import { MAX_STORY_CHARS } from '../../src/http/story-text.validator';
import { request } from '../support/http-client';
import { startTestApp, TestApp } from '../support/test-app';

const ROOT = path.join(__dirname, '..', '..');
const KEY = 'document-key-8c2a';
const BASE_URL = 'https://stories.example.org';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; $ref?: string };
type Response = { $ref?: string; content?: Record<string, { schema: Schema }> };
type Operation = {
  operationId: string;
  security: Record<string, string[]>[];
  responses: Record<string, Response>;
};
type Document = {
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Response> };
};

const operations = (document: Document) =>
  Object.entries(document.paths).flatMap(([route, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      name: `${method.toUpperCase()} ${route}`,
      ...operation,
    })),
  );
const isPublic = (route: string) => route.startsWith('GET /health') || route === 'GET /info';

/** `redocly lint` with the repository's redocly.yaml (recommended rules): its totals for `file`. */
function redoclyTotals(file: string): { errors: number; warnings: number } {
  const cli = path.join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
  let output: string;
  try {
    output = execFileSync(process.execPath, [cli, 'lint', '--format=json', file], {
      cwd: ROOT,
      // No telemetry or update check: CI reaches no network but the package registry.
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  } catch (err) {
    // It exits non-zero when it finds errors; the report is on stdout all the same.
    output = String((err as { stdout?: Buffer }).stdout ?? err);
  }
  const report = JSON.parse(output) as { totals: { errors: number; warnings: number }; problems: unknown[] };
  if (report.problems.length > 0) console.log(JSON.stringify(report.problems, null, 2));
  return { errors: report.totals.errors, warnings: report.totals.warnings };
}

describe('the OpenAPI document', () => {
  let plain: TestApp;
  let keyed: TestApp;
  let served: Document;
  let servedKeyed: Document;
  beforeAll(async () => {
    [plain, keyed] = await Promise.all([
      startTestApp(),
      startTestApp({ API_KEYS: KEY, PUBLIC_BASE_URL: BASE_URL }),
    ]);
    served = (await request<Document>(`${plain.url}/docs/json`)).body;
    servedKeyed = (await request<Document>(`${keyed.url}/docs/json`)).body;
  });
  afterAll(() => Promise.all([plain?.close(), keyed?.close()]));

  it('is served exactly as committed in openapi.json', () => {
    const committed = JSON.parse(readFileSync(path.join(ROOT, 'openapi.json'), 'utf8'));
    try {
      expect(served).toEqual(committed);
    } catch (err) {
      throw new Error(
        `openapi.json differs from the document the service serves: run \`npm run openapi\` and commit ` +
          `openapi.json and test/client/openapi.d.ts.\n\n${(err as Error).message}`,
      );
    }
  });

  it('passes `redocly lint` with the recommended rules: no error, no warning', () => {
    const keyedFile = path.join(keyed.env.imageDir, 'openapi-keyed.json');
    writeFileSync(keyedFile, JSON.stringify(servedKeyed));
    const clean = { errors: 0, warnings: 0 };
    expect({ committed: redoclyTotals('openapi.json'), keyed: redoclyTotals(keyedFile) }).toEqual({
      committed: clean,
      keyed: clean,
    });
  });

  it('names the server PUBLIC_BASE_URL when set, and the document origin otherwise', () => {
    expect(served.servers.map((server) => server.url)).toEqual(['/']);
    expect(servedKeyed.servers.map((server) => server.url)).toEqual([BASE_URL]);
  });

  it('asks for an API key on every operation but the health probes and GET /info (or a signed URL for images); with no API_KEYS, for none', () => {
    const keyRequired = [{ 'api-key': [] }, { bearer: [] }];
    const isImage = (name: string) => name.startsWith('GET /static/');
    for (const operation of operations(servedKeyed)) {
      const expected = isImage(operation.name) ? [...keyRequired, { 'signed-url': [] }] : keyRequired;
      expect({ [operation.name]: operation.security }).toEqual({
        [operation.name]: isPublic(operation.name) ? [] : expected,
      });
      expect({ [operation.name]: '401' in operation.responses }).toEqual({
        [operation.name]: !isPublic(operation.name),
      });
    }
    for (const operation of operations(served)) {
      expect({ [operation.name]: operation.security }).toEqual({
        [operation.name]: isPublic(operation.name) ? [] : [...keyRequired, {}],
      });
    }
  });

  it('names operations as a generated client would', () => {
    const ids = operations(served).map((operation) => operation.operationId);
    expect(ids).toEqual(
      expect.arrayContaining(['generateStory', 'getStatus', 'approveScenes', 'downloadZip']),
    );
    for (const id of ids) expect(id).toMatch(/^[a-z]+[A-Z][A-Za-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every error answer with the error envelope', () => {
    const named = <T>(map: Record<string, T>, ref = '') => map[ref.split('/').pop() ?? ''];
    const hasEnvelope = (response: Response) => {
      const resolved = response.$ref ? named(served.components.responses, response.$ref) : response;
      const schema = resolved.content?.['application/json']?.schema;
      const fields = schema?.$ref ? named(served.components.schemas, schema.$ref) : schema;
      // ErrorEnvelope itself, or (GET /health's 503) a view that carries the envelope's fields too.
      return ['error', 'status_code', 'timestamp'].every((field) =>
        (fields?.required as string[] | undefined)?.includes(field),
      );
    };
    const without = operations(served).flatMap((operation) =>
      Object.entries(operation.responses)
        .filter(([status, response]) => Number(status) >= 400 && !hasEnvelope(response))
        .map(([status]) => `${operation.name} ${status}`),
    );
    expect(without).toEqual([]);
  });

  it('states the bounds, enums and formats the validation enforces', () => {
    const { schemas } = served.components;
    expect(schemas.GenerateRequestDto).toMatchObject({
      additionalProperties: false,
      required: ['story_text'],
      properties: {
        story_text: { type: 'string', minLength: 1, maxLength: MAX_STORY_CHARS },
        media_type: { default: 'cinematic' },
        num_scenes: { type: 'integer', minimum: 1, maximum: MAX_SCENES, default: 5 },
      },
    });
    expect(schemas.MediaType).toEqual({ type: 'string', enum: [...MEDIA_TYPES] });
    expect(schemas.ApproveRequestDto).toMatchObject({
      additionalProperties: false,
      properties: {
        session_id: { type: 'string', format: 'uuid' },
        approved_scenes: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { type: 'integer', minimum: 0 },
        },
      },
    });
    expect(schemas.DownloadRequestDto).toMatchObject({
      additionalProperties: false,
      properties: { session_id: { format: 'uuid' } },
    });
    expect(schemas.StatusView.properties).toMatchObject({
      session_id: { format: 'uuid' },
      created_at: { format: 'date-time' },
      completed_at: { type: ['string', 'null'], format: 'date-time' },
    });
    expect(schemas.ErrorEnvelope.properties).toMatchObject({
      status_code: { type: 'integer' },
      timestamp: { format: 'date-time' },
    });
  });
});
