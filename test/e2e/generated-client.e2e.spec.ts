import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { CLIENT_TYPES, generateClientTypes, OPENAPI_JSON } from '../../scripts/openapi';
import { getSession, illustrate, ServiceError, storyClient } from '../client/story-client';
import { startTestApp, TestApp } from '../support/test-app';
import { readZip } from '../support/zip-reader';

const ROOT = path.join(__dirname, '..', '..');
const CLIENT = path.join(ROOT, 'test', 'client', 'story-client.ts');
const KEY = 'generated-client-key-41d7';
const STORY = [
  'Mara found a glowing lantern in the attic. She carried it down to the harbour at dusk.',
  'The lantern led Mara across the bay to an island nobody had mapped. There, Mara met Tomas.',
  'Tomas told Mara the lantern had been his. Together they lit the lighthouse again.',
].join('\n\n');

/** The client's types, generated afresh from the committed openapi.json. */
function generateTypes(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sig-client-'));
  try {
    generateClientTypes(OPENAPI_JSON, path.join(dir, 'openapi.d.ts'));
    return readFileSync(path.join(dir, 'openapi.d.ts'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Type-checks `files` (path -> source, or null to read it from disk) with the project's strict compiler
 * options, against the `generated` client types instead of the committed ones.
 */
function typeErrors(generated: string, files: Record<string, string | null>): string[] {
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const virtual = new Map<string, string>([[CLIENT_TYPES, generated]]);
  for (const [file, source] of Object.entries(files)) if (source !== null) virtual.set(file, source);
  const host = ts.createCompilerHost({ ...options, noEmit: true });
  const { readFile, fileExists } = host;
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  const program = ts.createProgram(Object.keys(files), { ...options, noEmit: true }, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const { file, start = 0 } = diagnostic;
    const line = file ? file.getLineAndCharacterOfPosition(start).line + 1 : 0;
    const where = file ? `${path.basename(file.fileName)}:${line}` : '';
    return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}

describe('a client generated from openapi.json (openapi-typescript + openapi-fetch)', () => {
  let t: TestApp;
  let generated: string;
  beforeAll(async () => {
    generated = generateTypes();
    t = await startTestApp({ API_KEYS: KEY });
  });
  afterAll(() => t.close());

  it('is generated from the committed openapi.json (run `npm run openapi` when this fails)', () => {
    expect(readFileSync(CLIENT_TYPES, 'utf8')).toBe(generated);
  });

  it('type-checks, with the operations, nullable fields and enums the service has', () => {
    expect(typeErrors(generated, { [CLIENT]: null })).toEqual([]);
    // The types constrain: a wrong enum value or an unchecked nullable field does not compile.
    const misuse = path.join(path.dirname(CLIENT), 'misuse.ts');
    const errors = typeErrors(generated, {
      [misuse]: [
        "import { getSession, illustrate, storyClient } from './story-client';",
        "const client = storyClient('http://localhost:8000', 'key');",
        "void illustrate(client, 'A story.', 'anime');",
        "void getSession(client, 'id').then((session) => session.scenes[0].download.file_url);",
      ].join('\n'),
    });
    expect(errors).toEqual([
      expect.stringMatching(/^misuse\.ts:3: Argument of type '"anime"' is not assignable/),
      "misuse.ts:4: Object is possibly 'null'.",
    ]);
  });

  it('drives the whole flow: generate, poll the status, approve, download the ZIP', async () => {
    const { session, zip } = await illustrate(storyClient(t.url, KEY), STORY, 'realistic');
    expect(session).toMatchObject({
      status: 'completed',
      download_status: 'completed',
      media_type: 'realistic',
    });
    expect(session.approved_scenes).toEqual([0, 1, 2]);
    const entries = await readZip(Buffer.from(zip));
    expect(entries.map((entry) => entry.name)).toEqual([
      'images/scene_01.png',
      'images/scene_02.png',
      'images/scene_03.png',
      'cast/Mara.png',
      'cast/Tomas.png',
      'storyboard.pdf',
      'scenes.json',
      'story.txt',
      'storyboard.html',
    ]);
    expect(entries.find((entry) => entry.name === 'story.txt')?.data.toString()).toBe(STORY);
  });

  it('gets the error envelope, typed, for an unknown session', async () => {
    const unknown = getSession(storyClient(t.url, KEY), '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f');
    await expect(unknown).rejects.toBeInstanceOf(ServiceError);
    await expect(unknown).rejects.toMatchObject({
      envelope: { status_code: 404, error: 'Session not found or expired' },
    });
  });
});
