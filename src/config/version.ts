import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** package.json sits two levels up from both src/health and dist/health. */
export const APP_VERSION: string = (
  JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;
