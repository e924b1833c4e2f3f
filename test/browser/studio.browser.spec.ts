import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { QueueName } from '../../src/domain/jobs';
import { startFakeOpenRouter, FakeOpenRouter } from '../support/fake-openrouter';
import { startFakeRunware, FakeRunware } from '../support/fake-runware';
import { request } from '../support/http-client';
import { liveProviderVars } from '../support/live-vars';
import { startTestApp, TestApp } from '../support/test-app';
import { readZip } from '../support/zip-reader';

/**
 * The studio at GET /, driven in headless Chromium (Debian's package; .ci/run installs it) the way a
 * person uses it: write a story, watch three scenes render, direct one, approve two, download the ZIP.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const KEY = 'studio-key-0123456789abcdef';

const STORY = [
  'Mara found a glowing lantern in the attic, wrapped in her grandmother’s scarf.',
  'Mara carried it down to the harbour at dusk, where old Tom was mending his nets.',
  'Tom and Mara rowed out toward the island that no map had ever shown.',
].join('\n\n');
const EDITED_PROMPT = 'Mara and Tom rowing a small red boat under a sky full of paper lanterns';

type Scene = { index: number; title: string; version: number; image_prompt: string; approved: boolean };
type Status = { status: string; download_status: string; scenes: Scene[] };

function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps trying to reach Google, which this sandbox refuses.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Every image of the scene grid is loaded (naturalWidth > 0), and there are `count` of them. */
async function imagesLoaded(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const images = [...document.querySelectorAll<HTMLImageElement>('#scenes img')];
      return images.length === n && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    count,
    { timeout: 30_000 },
  );
}

const sceneCard = (page: Page, n: number): Locator =>
  page.getByRole('article', { name: new RegExp(`^Scene ${n}:`) });

describe.each([
  { mode: 'open', vars: {} as Record<string, string>, key: null as string | null },
  {
    mode: 'with API_KEYS',
    vars: { API_KEYS: `studio:${KEY}`, MAX_ACTIVE_SESSIONS_PER_KEY: '1' } as Record<string, string>,
    key: KEY,
  },
])('the studio in a real browser ($mode)', ({ mode, vars, key }) => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  /** Uncaught exceptions and Content-Security-Policy refusals: a working page has none. */
  const pageProblems: string[] = [];
  const asOwner = key ? { 'x-api-key': key } : undefined;
  const slug = mode === 'open' ? 'studio' : 'studio-keyed';

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [t, browser] = await Promise.all([startTestApp(vars), launchChromium()]);
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageProblems.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('goes from a story to a downloaded ZIP with a storyboard', async () => {
    await page.goto(`${t.url}/`);
    const keyField = page.getByLabel('API key', { exact: true });

    if (key) {
      // Visible from page load, and a Generate without it tells why, where the key goes.
      await expect(keyField.isVisible()).resolves.toBe(true);
    } else {
      await page.getByRole('button', { name: 'Generate' }).waitFor();
      await expect(keyField.isVisible()).resolves.toBe(false);
    }

    await page.getByLabel('Story', { exact: true }).fill(STORY);
    await page.getByLabel('Media type').selectOption('cartoon');
    await page.getByLabel('Number of scenes').fill('3');

    if (key) {
      await page.getByRole('button', { name: 'Generate' }).click();
      await page.locator('#key-error:not(:empty)').waitFor();
      expect(await page.locator('#key-error').textContent()).toMatch(/API key/);
      await keyField.fill(key);
      expect(await page.evaluate(() => localStorage.getItem('story-studio.api-key'))).toBe(key);
    }

    await page.getByRole('button', { name: 'Generate' }).click();
    await page.waitForURL(/#session=[0-9a-f-]{36}$/);
    const sessionId = new URL(page.url()).hash.replace('#session=', '');
    await imagesLoaded(page, 3);

    // The cast is shown above the scenes, each portrait loaded.
    await page.waitForFunction(() => {
      const portraits = [...document.querySelectorAll<HTMLImageElement>('#cast img')];
      return portraits.length === 2 && portraits.every((img) => img.complete && img.naturalWidth > 0);
    });
    expect(
      await page
        .getByRole('img', { name: /^Portrait of / })
        .evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt'))),
    ).toEqual(['Portrait of Mara', 'Portrait of Tom']);

    // Direct scene 2: edit its prompt in place and render it again; the card shows version 2.
    const second = sceneCard(page, 2);
    const firstImage = await second.locator('img').getAttribute('src');
    await second.getByText('Prompt', { exact: true }).click();
    await page.getByLabel('Prompt for scene 2').fill(EDITED_PROMPT);
    await page.getByRole('button', { name: 'Regenerate scene 2' }).click();
    await page.waitForFunction(
      (before) => {
        const card = [...document.querySelectorAll('#scenes article')][1];
        const img = card?.querySelector('img');
        return !!img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0;
      },
      firstImage,
      { timeout: 30_000 },
    );
    expect(await second.locator('img').getAttribute('src')).toMatch(/scene_02_v2\.png/);

    // Earlier versions can be picked, and picked back.
    const versions = page.getByLabel('Version of scene 2');
    await expect(versions.locator('option').allTextContents()).resolves.toEqual(['Version 1', 'Version 2']);
    await versions.selectOption('1');
    await page.waitForFunction(
      () => !/_v2\.png/.test(document.querySelectorAll('#scenes article img')[1]?.getAttribute('src') ?? ''),
    );
    expect(await second.locator('img').getAttribute('src')).toBe(firstImage);
    await versions.selectOption('2');
    await page.waitForFunction(() =>
      /_v2\.png/.test(document.querySelectorAll('#scenes article img')[1]?.getAttribute('src') ?? ''),
    );
    await imagesLoaded(page, 3);

    const directed = await request<Status>(`${t.url}/status/${sessionId}`, { headers: asOwner });
    expect(directed.body.scenes[1]).toMatchObject({ version: 2, image_prompt: EDITED_PROMPT });

    // Approve scenes 1 and 2, then download once the export is ready.
    await page.getByLabel('Approve scene 1').check();
    await page.getByLabel('Approve scene 2').check();
    await page.getByRole('button', { name: 'Approve selected' }).click();
    const download = page.getByRole('button', { name: 'Download ZIP' });
    await page.waitForFunction(
      () => !(document.getElementById('download') as HTMLButtonElement).disabled,
      null,
      {
        timeout: 30_000,
      },
    );
    const [saved] = await Promise.all([page.waitForEvent('download'), download.click()]);
    expect(saved.suggestedFilename()).toBe(`story_${sessionId.slice(0, 8)}.zip`);
    const zipPath = path.join(ARTIFACTS, `${slug}.zip`);
    await saved.saveAs(zipPath);
    await page.screenshot({ path: path.join(ARTIFACTS, `${slug}.png`), fullPage: true });

    const entries = await readZip(readFileSync(zipPath));
    const names = entries.map((entry) => entry.name).sort();
    expect(names.filter((name) => name.startsWith('images/'))).toEqual([
      'images/scene_01.png',
      'images/scene_02.png',
    ]);
    expect(names).toEqual(
      expect.arrayContaining(['storyboard.pdf', 'storyboard.html', 'scenes.json', 'story.txt']),
    );

    // The storyboard's text names both approved scenes (pdftotext, from poppler-utils).
    const pdfPath = path.join(ARTIFACTS, `${slug}-storyboard.pdf`);
    writeFileSync(pdfPath, entries.find((entry) => entry.name === 'storyboard.pdf')!.data);
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', pdfPath, '-'], { encoding: 'utf8' }).replace(
      /\s+/g,
      ' ',
    );
    const final = await request<Status>(`${t.url}/status/${sessionId}`, { headers: asOwner });
    for (const scene of final.body.scenes.slice(0, 2))
      expect(text).toContain(scene.title.replace(/\s+/g, ' '));
    expect(final.body.scenes.map((scene) => scene.approved)).toEqual([true, true, false]);

    expect(pageProblems).toEqual([]);
  }, 120_000);

  it('shows the server’s validation message where the story was written, and keeps the page usable', async () => {
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByLabel('Story', { exact: true }).fill('A story with a bell \u0007 in it.');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('#form-error:not(:empty)').waitFor();
    expect(await page.locator('#form-error').textContent()).toMatch(/story_text/);
    // Nothing was lost: the text is still there, and the form still works.
    expect(await page.getByLabel('Story', { exact: true }).inputValue()).toContain('A story with a bell');
    await page.getByLabel('Story', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.locator('#form-error').textContent()).resolves.toBe('Write or paste a story first.');
    expect(pageProblems).toEqual([]);
  });

  // The quota counts per API key: without API_KEYS there is none, so the open run skips this (and says so).
  (key ? it : it.skip)(
    'shows a 429 with its wait when the key already has a session processing',
    async () => {
      // Held in the queue, the next session stays "processing", which is what the quota counts.
      const renders = t.app.get<Queue>(getQueueToken(QueueName.Generation), { strict: false });
      await renders.pause();
      try {
        await page.getByLabel('Story', { exact: true }).fill(STORY);
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.waitForURL(/#session=[0-9a-f-]{36}$/);
        await page.getByLabel('Story', { exact: true }).fill(`${STORY}\n\nAnd a second telling.`);
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.locator('#form-error:not(:empty)').waitFor();
        expect(await page.locator('#form-error').textContent()).toMatch(/\(try again in \d+ s\)$/);
        await expect(page.getByRole('button', { name: 'Generate' }).isEnabled()).resolves.toBe(true);
      } finally {
        await renders.resume();
      }
      expect(pageProblems).toEqual([]);
    },
  );
});

describe('the studio in a real browser (live providers, every render refused)', () => {
  let openrouter: FakeOpenRouter;
  let runware: FakeRunware;
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    [openrouter, runware, browser] = await Promise.all([
      startFakeOpenRouter({ apiKey: 'or-key' }),
      startFakeRunware({ apiKey: 'rw-key', behaviour: { fault: 'invalidParameter' } }),
      launchChromium(),
    ]);
    t = await startTestApp(
      liveProviderVars(openrouter, runware, { openrouter: 'or-key', runware: 'rw-key' }),
    );
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await Promise.all([openrouter?.close(), runware?.close()]);
  });

  it("shows each failed scene with the provider's error, and the page can start over", async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    await page.getByLabel('Story', { exact: true }).fill(STORY);
    await page.getByLabel('Number of scenes').fill('2');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('#scenes article[data-status="failed"]').length === 2,
      null,
      {
        timeout: 30_000,
      },
    );
    for (const n of [1, 2]) {
      expect(await sceneCard(page, n).getByRole('alert').textContent()).toMatch(
        new RegExp(`^Scene ${n} failed: .+`),
      );
    }
    await page.locator('#session-error:not(:empty)').waitFor();
    expect(await page.locator('#session-error').textContent()).toMatch(/^The session failed: .+Start over/);
    await expect(page.getByRole('button', { name: 'Approve selected' }).isDisabled()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Start over' }).click();
    await expect(page.locator('#session').isHidden()).resolves.toBe(true);
    await expect(page.getByRole('button', { name: 'Generate' }).isEnabled()).resolves.toBe(true);
  });
});
