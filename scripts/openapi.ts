// `npm run openapi`: writes openapi.json, the API's contract, from the app's own routes and DTOs, and the
// TypeScript types the test client (test/client/) is generated from it. Nest runs in preview mode (modules
// resolved, no provider constructed), so this needs no Redis and starts no server.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApiModule } from '../src/api.module';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/config/app-config';
import { buildOpenApiDocument, deploymentFacts } from '../src/http/openapi/document';

const ROOT = path.join(__dirname, '..');
export const OPENAPI_JSON = path.join(ROOT, 'openapi.json');
export const CLIENT_TYPES = path.join(ROOT, 'test', 'client', 'openapi.d.ts');

async function writeDocument(): Promise<void> {
  // The defaults, not the caller's environment: the committed document is what a server with no
  // PUBLIC_BASE_URL and no API_KEYS serves, on any machine.
  const config = loadConfig({ ROLE: 'api' });
  const app = await NestFactory.create(AppModule.forRoot(config, [ApiModule]), {
    preview: true,
    logger: false,
  });
  try {
    const document = buildOpenApiDocument(app, deploymentFacts(config));
    writeFileSync(OPENAPI_JSON, `${JSON.stringify(document, null, 2)}\n`);
  } finally {
    await app.close();
  }
}

/**
 * openapi-typescript's CLI, as the README tells a client author to run it (the package is ESM-only, so it
 * is not imported here). `--default-non-nullable=false`: by default it makes a field with a default value
 * required, which is right for answers but wrong for request bodies (`media_type`, `num_scenes`).
 */
export function generateClientTypes(document: string, output: string): void {
  const cli = path.join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
  const args = [cli, document, '--output', output, '--default-non-nullable=false'];
  execFileSync(process.execPath, args, { stdio: 'pipe' });
}

if (require.main === module) {
  writeDocument()
    .then(() => generateClientTypes(OPENAPI_JSON, CLIENT_TYPES))
    .then(() =>
      console.log(
        `Wrote ${path.relative(process.cwd(), OPENAPI_JSON)} and ${path.relative(process.cwd(), CLIENT_TYPES)}`,
      ),
    )
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
