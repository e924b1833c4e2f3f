import { randomBytes } from 'node:crypto';
import * as diagnostics from 'node:diagnostics_channel';
import { isIP, Socket } from 'node:net';
import * as os from 'node:os';
import { HttpImageFetcher, ResolvedAddress } from '../../src/providers/http/http-image-fetcher';
import { IMAGE_FETCHER } from '../../src/providers/image-fetcher';
import { SourceImageFetcher } from '../../src/providers/image-fetcher.service';
import { StoredImageReader } from '../../src/providers/stored/stored-image-reader';
import { IMAGE_STORAGE, ImageStorage } from '../../src/storage/image-storage';
import { FakeOpenRouter, startFakeOpenRouter } from '../support/fake-openrouter';
import { FakeRunware, FakeRunwareBehaviour, startFakeRunware } from '../support/fake-runware';
import { FakeImageHost, startFakeImageHost } from '../support/fake-images';
import { envelopeProblem, request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { pollUntil } from '../support/test-env';
import { pdfPageTexts } from '../support/pdf-tools';
import { readZip, ZipEntry } from '../support/zip-reader';

const OPENROUTER_KEY = 'sk-or-v1-DOWNLOAD-TEST-5e21';
const RUNWARE_KEY = 'rw-DOWNLOAD-TEST-a73c';
const STORY = [
  'Noor found a map folded inside her grandmother’s cookbook. A red cross marked the old quarry.',
  'Noor cycled to the quarry at dawn. Mist sat on the water like a lid.',
  'Behind the waterfall, Noor found a tin box. Inside was a letter addressed to her.',
  'Noor read the letter on the cliff as the sun came up over the valley.',
].join('\n\n');
/** Public, so a wildcard host may resolve to it; never contacted (see `watchConnections`). */
const PUBLIC_ADDRESS = '8.8.8.8';
const HAS_IPV6_LOOPBACK = Object.values(os.networkInterfaces()).some((addresses) =>
  addresses?.some((a) => a.address === '::1'),
);

type SceneDownload = { status: 'done' | 'failed'; file_url: string | null; error: string | null };
type Scene = { index: number; status: string; image_url: string; download: SceneDownload | null };
type Status = { status: string; download_status: string; scenes: Scene[] };
type ManifestEntry = { index: number; file: string; source_url: string };

describe('approved image downloads that fail, and the SSRF policy, through the whole flow', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let ipv6Listed: FakeImageHost | undefined;
  let ipv6Unlisted: FakeImageHost | undefined;
  let app: TestApp;
  let resolver: ScriptedResolver;
  let connections: ConnectionWatch;

  const images = () => runware.images;
  const pathOf = (scene: Scene) => new URL(scene.image_url).pathname;
  const status = async (id: string) => (await request<Status>(`${app.url}/status/${id}`)).body;
  const downloadForm = (id: string) => ({ method: 'POST', body: new URLSearchParams({ session_id: id }) });

  /** A session rendered by the fake Runware; `behaviours` apply to its image tasks in order. */
  const rendered = async (numScenes: number, ...behaviours: Partial<FakeRunwareBehaviour>[]) => {
    runware.enqueue(...behaviours);
    const res = await request<{ session_id: string }>(`${app.url}/generate`, {
      method: 'POST',
      json: { story_text: STORY, num_scenes: numScenes },
    });
    expect(res.status).toBe(200);
    const id = res.body.session_id;
    const done = await pollUntil(
      () => status(id),
      (s) => s.status !== 'processing',
      20_000,
    );
    expect(done.scenes.map((s) => s.status)).toEqual(Array(numScenes).fill('done'));
    return { id, scenes: done.scenes };
  };
  const approve = async (id: string, indices: number[]) => {
    const res = await request(`${app.url}/approve`, {
      method: 'POST',
      json: { session_id: id, approved_scenes: indices },
    });
    expect(res.status).toBe(200);
  };
  const downloaded = (id: string) =>
    pollUntil(
      () => status(id),
      (s) => s.download_status !== 'started',
      20_000,
    );
  const exported = async (id: string) => {
    const res = await fetch(`${app.url}/download`, downloadForm(id));
    expect(res.status).toBe(200);
    const entries = await readZip(Buffer.from(await res.arrayBuffer()));
    return { names: entries.map((e) => e.name).sort(), manifest: manifestOf(entries), entries };
  };
  const sceneOn = (scenes: Scene[], host: string) => {
    const scene = scenes.find((s) => new URL(s.image_url).host === host);
    if (!scene) throw new Error(`No scene has an image on ${host}`);
    return scene;
  };
  const failedWith = (error: string): SceneDownload => ({ status: 'failed', file_url: null, error });
  const doneAs = (id: string, file: string): SceneDownload => ({
    status: 'done',
    file_url: `${app.url}/static/${id}/${file}`,
    error: null,
  });

  beforeAll(async () => {
    resolver = new ScriptedResolver();
    connections = watchConnections();
    openrouter = await startFakeOpenRouter({ apiKey: OPENROUTER_KEY });
    runware = await startFakeRunware({ apiKey: RUNWARE_KEY });
    if (HAS_IPV6_LOOPBACK) {
      ipv6Listed = await startFakeImageHost({ address: '::1' });
      ipv6Unlisted = await startFakeImageHost({ address: '::1' });
    }
    const allowed = [runware.imageHost, `*.rebind.test:${runware.images.port}`, ipv6Listed?.host];
    app = await startTestApp(
      {
        ...liveProviderVars(openrouter, runware, { openrouter: OPENROUTER_KEY, runware: RUNWARE_KEY }),
        IMAGE_DOWNLOAD_ALLOWED_HOSTS: allowed.filter(Boolean).join(','),
        IMAGE_DOWNLOAD_TIMEOUT_MS: '5000',
        OPENROUTER_TIMEOUT_MS: '3000',
        RUNWARE_TIMEOUT_MS: '3000',
        JOB_ATTEMPTS: '2',
        JOB_BACKOFF_MS: '50',
        // Behaviours are queued for the scenes' image tasks in order; a casting step's portrait would
        // take the first. Casting has its own tests (casting*.e2e.spec.ts).
        CAST_PORTRAITS_MAX: '0',
      },
      undefined,
      undefined,
      // The real fetcher, with only its DNS resolution (system resolver by default) scripted.
      (builder, config) =>
        builder.overrideProvider(IMAGE_FETCHER).useFactory({
          inject: [IMAGE_STORAGE],
          factory: (storage: ImageStorage) =>
            new SourceImageFetcher(
              new StoredImageReader(storage),
              new HttpImageFetcher(config, { resolve: resolver.resolve }),
            ),
        }),
    );
  });
  afterEach(() => {
    openrouter.reset();
    runware.reset();
    ipv6Listed?.reset();
    ipv6Unlisted?.reset();
  });
  afterAll(async () => {
    await app?.close();
    connections?.stop();
    await Promise.all([openrouter?.close(), runware?.close(), ipv6Listed?.close(), ipv6Unlisted?.close()]);
  });

  describe('image host failures', () => {
    it('gives each failed scene its own error, and download_status "failed" as soon as one approved scene failed, even when others arrived', async () => {
      const { id, scenes } = await rendered(3);
      images().forPath(pathOf(scenes[1])).set({ status: 404 });
      images().forPath(pathOf(scenes[2])).set({ status: 503 });
      await approve(id, [0, 1, 2]);

      const done = await downloaded(id);
      expect(done.download_status).toBe('failed');
      expect(done.scenes.map((s) => s.download)).toEqual([
        doneAs(id, 'scene_01.png'),
        failedWith('The image host answered HTTP 404'),
        failedWith('The image host answered HTTP 503'),
      ]);
      // JOB_ATTEMPTS is 2: only the 503 (retryable) was asked for again; the scene that arrived and the
      // final 404 were not.
      expect(scenes.map((s) => images().requestsFor(pathOf(s)))).toEqual([1, 1, 2]);
    });

    it('exports a partial ZIP holding exactly the approved scenes that arrived, and scenes.json lists only those', async () => {
      const { id, scenes } = await rendered(4);
      images().forPath(pathOf(scenes[1])).set({ status: 404 });
      await approve(id, [0, 1, 3]);
      expect((await downloaded(id)).download_status).toBe('failed');

      const zip = await exported(id);
      expect(zip.names).toEqual([
        'images/scene_01.png',
        'images/scene_04.png',
        'scenes.json',
        'story.txt',
        'storyboard.html',
        'storyboard.pdf',
      ]);
      // The storyboard shows the scenes that arrived, and only those.
      const storyboard = zip.entries.find((e) => e.name === 'storyboard.pdf')!.data;
      const pages = await pdfPageTexts(storyboard);
      expect(pages).toHaveLength(3);
      expect(pages[1]).toMatch(/^Scene 1 /);
      expect(pages[2]).toMatch(/^Scene 4 /);
      expect(zip.manifest.map(({ index, file, source_url }) => ({ index, file, source_url }))).toEqual([
        { index: 0, file: 'images/scene_01.png', source_url: scenes[0].image_url },
        { index: 3, file: 'images/scene_04.png', source_url: scenes[3].image_url },
      ]);
      for (const [index, name] of [
        [0, 'images/scene_01.png'],
        [3, 'images/scene_04.png'],
      ] as const) {
        const served = await images().bytesFor(pathOf(scenes[index]));
        expect(zip.entries.find((e) => e.name === name)?.data.equals(served)).toBe(true);
      }
    });

    it('sets download_status "failed" when no approved scene arrived, and POST /download answers 409 with the envelope', async () => {
      const { id, scenes } = await rendered(2);
      images().forPath(pathOf(scenes[0])).set({ status: 404 });
      images().forPath(pathOf(scenes[1])).set({ status: 502 });
      await approve(id, [0, 1]);

      const done = await downloaded(id);
      expect(done.download_status).toBe('failed');
      expect(done.scenes.map((s) => s.download)).toEqual([
        failedWith('The image host answered HTTP 404'),
        failedWith('The image host answered HTTP 502'),
      ]);
      const res = await request(`${app.url}/download`, downloadForm(id));
      expect(
        envelopeProblem(res, 409, /None of the approved images could be downloaded; nothing to export/),
      ).toBeNull();
      expect(res.headers.get('retry-after')).toBeNull();
    });

    it('retries only what failed: a 5xx that heals is fetched again, the scenes already fetched are not', async () => {
      const { id, scenes } = await rendered(3);
      images().forPath(pathOf(scenes[1])).enqueue({ status: 503 });
      await approve(id, [0, 1, 2]);

      const done = await downloaded(id);
      expect(done.download_status).toBe('completed');
      expect(done.scenes.map((s) => s.download?.status)).toEqual(['done', 'done', 'done']);
      expect(scenes.map((s) => images().requestsFor(pathOf(s)))).toEqual([1, 2, 1]);
      expect((await exported(id)).names).toEqual([
        'images/scene_01.png',
        'images/scene_02.png',
        'images/scene_03.png',
        'scenes.json',
        'story.txt',
        'storyboard.html',
        'storyboard.pdf',
      ]);
    });

    it('answers POST /download with 409, Retry-After and the envelope while the download job is running', async () => {
      const { id, scenes } = await rendered(2);
      const slow = pathOf(scenes[0]);
      images().forPath(slow).set({ held: true });
      await approve(id, [0, 1]);
      // The job is under way once the image host holds its request.
      await pollUntil(
        async () => images().requestsFor(slow),
        (count) => count > 0,
        10_000,
      );

      const running = await request(`${app.url}/download`, downloadForm(id));
      expect(envelopeProblem(running, 409, /still downloading/)).toBeNull();
      expect(running.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect((await status(id)).download_status).toBe('started');

      images().release();
      expect((await downloaded(id)).download_status).toBe('completed');
      expect((await exported(id)).names).toEqual([
        'images/scene_01.png',
        'images/scene_02.png',
        'scenes.json',
        'story.txt',
        'storyboard.html',
        'storyboard.pdf',
      ]);
    });
  });

  describe('SSRF policy', () => {
    it('refuses an image URL whose host is not on the allowlist, without requesting it, and names why', async () => {
      // The same server as the allowed images, under a name the allowlist does not list.
      const offList = `localhost:${runware.images.port}`;
      const { id, scenes } = await rendered(2, { imageHost: offList });
      const refused = sceneOn(scenes, offList);
      await approve(id, [0, 1]);

      const done = await downloaded(id);
      expect(done.download_status).toBe('failed');
      expect(done.scenes[refused.index].download).toEqual(
        failedWith(`Image host ${offList} is not in IMAGE_DOWNLOAD_ALLOWED_HOSTS`),
      );
      expect(done.scenes[1 - refused.index].download?.status).toBe('done');
      expect(images().requestsFor(pathOf(refused))).toBe(0);
    });

    it('pins a wildcard host to the address it checked: when DNS turns to loopback after the check, the connection still goes to the checked public address, and the next check refuses the host', async () => {
      const hostname = `cdn-${randomBytes(4).toString('hex')}.rebind.test`;
      // The first answer passes the check; every later one points at the fake image host on loopback.
      resolver.script(hostname, PUBLIC_ADDRESS, '127.0.0.1');
      const { id, scenes } = await rendered(2, { imageHost: `${hostname}:${runware.images.port}` });
      const rebound = sceneOn(scenes, `${hostname}:${runware.images.port}`);
      await approve(id, [0, 1]);

      const done = await downloaded(id);
      // Attempt 1 connected to the checked public address (stopped there: nothing leaves this machine);
      // attempt 2 checked again, got loopback and refused.
      expect(connections.to(hostname)).toEqual([PUBLIC_ADDRESS]);
      expect(resolver.lookupsOf(hostname)).toBe(2);
      expect(images().requestsFor(pathOf(rebound))).toBe(0);
      expect(done.scenes[rebound.index].download).toEqual(
        failedWith(`Image host ${hostname} resolves to a private address; refused`),
      );
      expect(done.scenes[1 - rebound.index].download?.status).toBe('done');
      expect(done.download_status).toBe('failed');
    });

    (HAS_IPV6_LOOPBACK ? it : it.skip)(
      'honours an [ipv6]:port allowlist entry: [::1] on the listed port downloads, on another port it is refused',
      async () => {
        const listed = ipv6Listed as FakeImageHost;
        const unlisted = ipv6Unlisted as FakeImageHost;
        const { id, scenes } = await rendered(2, { imageHost: listed.host }, { imageHost: unlisted.host });
        const allowed = sceneOn(scenes, listed.host);
        const refused = sceneOn(scenes, unlisted.host);
        await approve(id, [0, 1]);

        const done = await downloaded(id);
        expect(done.scenes[allowed.index].download).toEqual(doneAs(id, `scene_0${allowed.index + 1}.png`));
        expect(done.scenes[refused.index].download).toEqual(
          failedWith(`Image host ${unlisted.host} is not in IMAGE_DOWNLOAD_ALLOWED_HOSTS`),
        );
        expect(listed.requestsFor(pathOf(allowed))).toBe(1);
        expect(unlisted.requestsFor(pathOf(refused))).toBe(0);
        const file = await fetch(done.scenes[allowed.index].download?.file_url as string);
        expect(Buffer.from(await file.arrayBuffer()).equals(await listed.bytesFor(pathOf(allowed)))).toBe(
          true,
        );
      },
    );
  });
});

function manifestOf(entries: ZipEntry[]): ManifestEntry[] {
  const manifest = entries.find((e) => e.name === 'scenes.json');
  if (!manifest) throw new Error('The ZIP has no scenes.json');
  return JSON.parse(manifest.data.toString()) as ManifestEntry[];
}

/**
 * DNS with scripted answers per host name: each address in turn, then the last one again. No other name
 * resolves, so no lookup leaves this machine.
 */
class ScriptedResolver {
  private readonly answers = new Map<string, string[]>();
  private readonly lookups = new Map<string, number>();

  script(hostname: string, ...addresses: string[]): void {
    this.answers.set(hostname, addresses);
  }

  lookupsOf(hostname: string): number {
    return this.lookups.get(hostname) ?? 0;
  }

  readonly resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    this.lookups.set(hostname, this.lookupsOf(hostname) + 1);
    const queue = this.answers.get(hostname);
    if (!queue) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const address = queue.length > 1 ? (queue.shift() as string) : queue[0];
    return [{ address, family: isIP(address) }];
  };
}

interface ConnectionWatch {
  /** The addresses connections to `host` went to, in order. */
  to(host: string): string[];
  stop(): void;
}

/**
 * Records, for every TCP connection this process opens to a host name, the address its socket resolved
 * to (Node's `net.client.socket` diagnostics channel and the socket's `lookup` event). A socket bound for
 * an address off this machine is destroyed before it connects: no test reaches the internet, and to the
 * client that address is simply unreachable.
 */
function watchConnections(): ConnectionWatch {
  const seen: { host: string; address: string }[] = [];
  const onSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    socket.once('lookup', (err: Error | null, address: string, _family: unknown, host: string) => {
      seen.push({ host, address: err ? `lookup failed: ${err.message}` : address });
      if (err || address === '::1' || address.startsWith('127.')) return;
      socket.destroy();
    });
  };
  diagnostics.subscribe('net.client.socket', onSocket);
  return {
    to: (host: string) => seen.filter((c) => c.host === host).map((c) => c.address),
    stop: () => diagnostics.unsubscribe('net.client.socket', onSocket),
  };
}
