// A client of this service written the way the README ("Generated clients") shows a user: its types are
// generated from openapi.json by openapi-typescript (./openapi.d.ts, written by `npm run openapi`), and
// openapi-fetch makes the calls. generated-client.e2e.spec.ts checks the types are current, type-checks this
// file against them and runs the whole flow with it against the real service.
import createClient from 'openapi-fetch';
import type { components, paths } from './openapi';

export type Session = components['schemas']['StatusView'];
export type MediaType = components['schemas']['MediaType'];
export type StoryClient = ReturnType<typeof createClient<paths>>;

export function storyClient(baseUrl: string, apiKey: string): StoryClient {
  return createClient<paths>({ baseUrl, headers: { 'X-API-Key': apiKey } });
}

/** An error answer of the service, as the document types it. */
export class ServiceError extends Error {
  constructor(readonly envelope: components['schemas']['ErrorEnvelope']) {
    super(`${envelope.status_code}: ${[envelope.error].flat().join('; ')}`);
  }
}

export async function getSession(client: StoryClient, sessionId: string): Promise<Session> {
  const { data, error } = await client.GET('/status/{session_id}', {
    params: { path: { session_id: sessionId } },
  });
  if (error) throw new ServiceError(error);
  return data;
}

/** Polls the session until `done` holds (or a minute has passed). */
async function waitFor(client: StoryClient, sessionId: string, done: (session: Session) => boolean) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const session = await getSession(client, sessionId);
    if (done(session)) return session;
    if (Date.now() > deadline) throw new Error(`Session ${sessionId} is still ${session.phase}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The whole flow: generate, wait for the scenes, approve every rendered one, wait, download the ZIP. */
export async function illustrate(
  client: StoryClient,
  story: string,
  mediaType: MediaType,
): Promise<{ session: Session; zip: ArrayBuffer }> {
  const started = await client.POST('/generate', {
    body: { story_text: story, media_type: mediaType, num_scenes: 3 },
  });
  if (started.error) throw new ServiceError(started.error);
  const sessionId = started.data.session_id;

  const rendered = await waitFor(client, sessionId, (session) => session.status !== 'processing');
  if (rendered.status === 'failed') throw new Error(rendered.error ?? 'generation failed');
  const approved = rendered.scenes.filter((scene) => scene.status === 'done').map((scene) => scene.index);
  const approval = await client.POST('/approve', {
    body: { session_id: sessionId, approved_scenes: approved },
  });
  if (approval.error) throw new ServiceError(approval.error);

  const session = await waitFor(client, sessionId, (current) => current.download_status !== 'started');
  const zip = await client.POST('/download', { body: { session_id: sessionId }, parseAs: 'arrayBuffer' });
  if (zip.error) throw new ServiceError(zip.error);
  return { session, zip: zip.data };
}
