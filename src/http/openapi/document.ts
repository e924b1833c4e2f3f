import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '../../config/app-config';
import { APP_VERSION } from '../../config/version';
import { ErrorEnvelope } from '../api-error.decorator';
import { applyConventions, DeploymentFacts } from './conventions';
import { toOpenApi31 } from './nullable';
import { staticImagePaths } from './static-images';

/** Swagger UI; the document itself is served at `/docs/json` (and `/docs/yaml`). */
export const DOCS_PATH = 'docs';
export const DOCUMENT_JSON_PATH = 'docs/json';

const TAGS: [name: string, description: string][] = [
  ['generation', 'Start a session: plan the story into scenes and render one image per scene'],
  ['sessions', 'Progress, scenes and download state of a session'],
  ['approval', 'Choose the scenes to export'],
  ['download', 'The approved scenes as a ZIP project'],
  ['images', 'Image files of a session'],
  ['health', 'Probes for orchestrators and monitoring; no API key needed'],
  ['service', 'What a client can learn before its first request; no API key needed'],
  ['debug', 'Operator views, only when DEBUG_MODE=true'],
];

export function deploymentFacts(config: Pick<AppConfig, 'publicBaseUrl' | 'apiKeys'>): DeploymentFacts {
  return { publicBaseUrl: config.publicBaseUrl, apiKeysRequired: config.apiKeys.length > 0 };
}

/**
 * The OpenAPI 3.1 document of the app's routes, as served at /docs/json and committed as openapi.json
 * (`npm run openapi`). It depends only on the code and on PUBLIC_BASE_URL and API_KEYS: no timestamps, no
 * host names, so the same code always gives the same document.
 */
export function buildOpenApiDocument(app: INestApplication, facts: DeploymentFacts): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Story to Image Generator')
    .setDescription(
      'Turns a story into illustrated scenes: `POST /generate`, poll `GET /status/{session_id}`, ' +
        '`POST /approve`, poll again until `download_status` is over, then `POST /download` for the ZIP. ' +
        'Every error answers with the envelope `{error, status_code, timestamp}`.',
    )
    .setVersion(APP_VERSION);
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const scanned = SwaggerModule.createDocument(app, builder.build(), {
    // The handler's name is the operation's name in generated clients (`generateStory`, `getStatus`, …).
    operationIdFactory: (_controller, method) => method,
    extraModels: [ErrorEnvelope],
  });
  const document = applyConventions(scanned, facts);
  document.paths = { ...document.paths, ...staticImagePaths(facts) };
  return toOpenApi31(document);
}

export function serveOpenApiDocument(app: INestApplication, config: AppConfig): void {
  SwaggerModule.setup(DOCS_PATH, app, buildOpenApiDocument(app, deploymentFacts(config)), {
    jsonDocumentUrl: DOCUMENT_JSON_PATH,
    yamlDocumentUrl: 'docs/yaml',
  });
}
