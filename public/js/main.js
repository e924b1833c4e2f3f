// The studio: write a story, watch its scenes render live, direct them, approve some, download the ZIP.
// The page keeps one session at a time; its id sits in the URL (#session=…), so a reload picks it up.

import { ApiError, api, storeKey, storedKey } from './api.js';
import { followSession } from './live.js';
import { el } from './dom.js';
import { createSceneCard, showCardError, updateSceneCard } from './scene-card.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));

const ui = {
  keySection: $('key-section'),
  key: $('api-key'),
  keyError: $('key-error'),
  form: $('story-form'),
  story: $('story'),
  storyCount: $('story-count'),
  mediaType: $('media-type'),
  numScenes: $('num-scenes'),
  generate: $('generate'),
  formError: $('form-error'),
  session: $('session'),
  startOver: $('start-over'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  connection: $('connection'),
  sessionError: $('session-error'),
  warnings: $('warnings'),
  castSection: $('cast-section'),
  cast: $('cast'),
  scenes: $('scenes'),
  approve: $('approve'),
  download: $('download'),
  downloadState: $('download-state'),
  finishError: $('finish-error'),
};

const state = {
  maxStoryChars: 50_000,
  /** @type {string | null} */ sessionId: null,
  /** @type {any} */ session: null,
  /** @type {Map<number, any>} */ cards: new Map(),
  /** @type {(() => void) | null} */ stopFollowing: null,
  expired: false,
};

const message = (error) => (error instanceof Error ? error.message : String(error));

// ---- Start-up: does this server want a key? ----

async function start() {
  ui.key.value = storedKey();
  ui.key.addEventListener('input', () => {
    storeKey(ui.key.value.trim());
    ui.keyError.textContent = '';
  });
  ui.story.addEventListener('input', showStoryCount);
  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void generate();
  });
  ui.startOver.addEventListener('click', startOver);
  ui.approve.addEventListener('click', () => void approveSelected());
  ui.download.addEventListener('click', () => void downloadZip());

  try {
    const info = await api.info();
    ui.keySection.hidden = !info.auth.api_key_required;
    state.maxStoryChars = info.generate.max_story_chars;
    ui.story.maxLength = info.generate.max_story_chars;
    ui.numScenes.min = String(info.generate.num_scenes.min);
    ui.numScenes.max = String(info.generate.num_scenes.max);
    ui.numScenes.value = String(info.generate.num_scenes.default);
    ui.mediaType.value = info.generate.default_media_type;
  } catch (error) {
    // Without the answer, offer the key field anyway: a key the server does not need does no harm.
    ui.keySection.hidden = false;
    ui.formError.textContent = `Could not read the server's settings: ${message(error)}`;
  }
  showStoryCount();

  const resumed = new URLSearchParams(location.hash.slice(1)).get('session');
  if (resumed && /^[0-9a-f-]{36}$/i.test(resumed)) openSession(resumed.toLowerCase());
}

function showStoryCount() {
  const used = [...ui.story.value].length;
  ui.storyCount.textContent = `${used.toLocaleString()} of ${state.maxStoryChars.toLocaleString()} characters`;
}

// ---- Generate ----

async function generate() {
  ui.formError.textContent = '';
  const story = ui.story.value;
  const count = Number(ui.numScenes.value);
  const problem =
    story.trim() === ''
      ? 'Write or paste a story first.'
      : !Number.isInteger(count) || count < Number(ui.numScenes.min) || count > Number(ui.numScenes.max)
        ? `Number of scenes must be a whole number from ${ui.numScenes.min} to ${ui.numScenes.max}.`
        : null;
  if (problem) {
    ui.formError.textContent = problem;
    return;
  }
  ui.generate.disabled = true;
  ui.generate.textContent = 'Generating…';
  try {
    const started = await api.generate(story, ui.mediaType.value, count);
    openSession(started.session_id);
  } catch (error) {
    ui.formError.textContent = message(error);
    if (error instanceof ApiError && error.status === 401) showKeyProblem(error);
  } finally {
    ui.generate.disabled = false;
    ui.generate.textContent = 'Generate';
  }
}

function showKeyProblem(error) {
  ui.keySection.hidden = false;
  ui.keyError.textContent = message(error);
  ui.key.focus();
}

// ---- One session, followed live ----

function openSession(sessionId) {
  closeSession();
  state.sessionId = sessionId;
  history.replaceState(null, '', `#session=${sessionId}`);
  ui.session.hidden = false;
  ui.progressLabel.textContent = 'Queued';
  ui.connection.textContent = 'Connecting…';
  state.stopFollowing = followSession(sessionId, {
    onEvent: applyEvent,
    onConnection: (connection) => {
      ui.connection.textContent = connection === 'live' ? '' : `Live updates ${connection}…`;
    },
    onFatal: (error) => {
      ui.connection.textContent = '';
      ui.sessionError.textContent = `${message(error)}. Start over to make a new one.`;
      if (error instanceof ApiError && error.status === 401) showKeyProblem(error);
    },
  });
}

function closeSession() {
  state.stopFollowing?.();
  state.stopFollowing = null;
  state.sessionId = null;
  state.session = null;
  state.expired = false;
  state.cards.clear();
  ui.scenes.replaceChildren();
  ui.warnings.replaceChildren();
  ui.cast.replaceChildren();
  ui.castSection.hidden = true;
  for (const node of [ui.sessionError, ui.finishError, ui.downloadState, ui.connection])
    node.textContent = '';
  ui.approve.disabled = true;
  ui.download.disabled = true;
}

function startOver() {
  closeSession();
  ui.session.hidden = true;
  history.replaceState(null, '', location.pathname + location.search);
  ui.story.focus();
}

function applyEvent(type, data) {
  if (type === 'snapshot') state.session = data;
  else if (!state.session) return;
  else if (type === 'scene') putScene(data);
  else if (type === 'progress') state.session.progress = data;
  else if (type === 'cast') state.session.cast = data.cast;
  else if (type === 'status') Object.assign(state.session, data);
  else if (type === 'download') {
    state.session.download_status = data.download_status;
    for (const scene of data.scenes) putScene(scene);
  } else if (type === 'expired') {
    state.expired = true;
    ui.sessionError.textContent = 'This session has expired. Start over to make a new one.';
  }
  render();
}

function putScene(scene) {
  const scenes = state.session.scenes;
  scenes[scene.index] = { ...scenes[scene.index], ...scene };
}

function render() {
  const session = state.session;
  if (!session) return;
  const progress = session.progress ?? { current_step: 0, total_steps: 1, description: '' };
  ui.progress.max = Math.max(1, progress.total_steps);
  ui.progress.value = progress.current_step;
  ui.progressLabel.textContent = `${progress.description || session.phase} (${progress.current_step} of ${progress.total_steps})`;
  if (session.status === 'failed' && !state.expired) {
    ui.sessionError.textContent = `The session failed: ${session.error ?? 'unknown error'}. Start over to try again.`;
  }
  const warnings = Array.isArray(session.warnings) ? session.warnings : [];
  ui.warnings.replaceChildren(
    ...warnings.map((text) => Object.assign(document.createElement('li'), { textContent: text })),
  );

  renderCast(Array.isArray(session.cast) ? session.cast : []);
  for (const scene of session.scenes.filter(Boolean)) {
    let card = state.cards.get(scene.index);
    if (!card) {
      card = createSceneCard(scene, {
        onRegenerate: regenerate,
        onSelectVersion: selectVersion,
        onApproveToggle: renderFinish,
      });
      state.cards.set(scene.index, card);
      insertInOrder(card);
    }
    updateSceneCard(card, scene, session);
  }
  renderFinish();
}

/** The cast sheet above the scenes: each member's portrait once drawn, and what they look like. */
function renderCast(cast) {
  ui.castSection.hidden = cast.length === 0;
  const items = cast.map((member) => {
    const figure =
      member.image_url && member.status === 'done'
        ? el('img', { src: member.image_url, alt: `Portrait of ${member.name}` })
        : el('div', { className: 'placeholder' }, castState(member));
    return el(
      'li',
      { className: 'member', 'data-status': member.status },
      figure,
      el('strong', {}, member.name),
      el('p', { className: 'hint', title: member.description }, member.description),
      member.error ? el('p', { className: 'error' }, `Portrait failed: ${member.error}`) : '',
    );
  });
  // Replaced only when something shown changed, so loaded portraits do not flicker on every event.
  const signature = JSON.stringify(cast.map((m) => [m.name, m.status, m.image_url, m.error, m.description]));
  if (ui.cast.dataset.signature !== signature) {
    ui.cast.replaceChildren(...items);
    ui.cast.dataset.signature = signature;
  }
}

function castState(member) {
  if (member.status === 'not_cast') return 'No portrait';
  if (member.status === 'failed') return 'No portrait';
  return member.status === 'rendering' ? 'Drawing…' : 'Waiting…';
}

function insertInOrder(card) {
  const after = [...state.cards.values()].filter((c) => c.index > card.index && c.root.isConnected);
  const next = after.sort((a, b) => a.index - b.index)[0];
  ui.scenes.insertBefore(card.root, next ? next.root : null);
}

function renderFinish() {
  const session = state.session;
  if (!session) return;
  const checked = [...state.cards.values()].filter((card) => card.approve.checked && !card.approve.disabled);
  const approving = session.download_status === 'not_started';
  ui.approve.disabled = !approving || session.status !== 'completed' || checked.length === 0;
  const exported = session.scenes.filter((scene) => scene?.approved && scene.download?.status === 'done');
  const missing = session.scenes.filter((scene) => scene?.approved && scene.download?.status === 'failed');
  const over = session.download_status === 'completed' || session.download_status === 'failed';
  ui.download.disabled = !over || exported.length === 0 || state.expired;
  ui.downloadState.textContent =
    session.download_status === 'started'
      ? 'Preparing the approved images for download…'
      : session.download_status === 'completed'
        ? `Ready: ${exported.length} scene${exported.length === 1 ? '' : 's'} in the ZIP.`
        : session.download_status === 'failed'
          ? `Could not download ${missing.map((s) => `scene ${s.scene_number} (${s.download.error})`).join(', ') || 'the images'}.` +
            (exported.length > 0 ? ' The ZIP holds the scenes that arrived.' : '')
          : session.status === 'completed'
            ? 'Tick the scenes to keep, then approve them.'
            : '';
}

// ---- Directing a scene ----

async function regenerate(index, prompt) {
  const card = state.cards.get(index);
  if (!card || !state.sessionId) return;
  showCardError(card, '');
  card.regenerate.disabled = true;
  try {
    await api.regenerate(state.sessionId, index, prompt);
    // The new version arrives over the live stream; the edit is now the scene's prompt.
    card.promptEdited = false;
  } catch (error) {
    showCardError(card, message(error));
    card.regenerate.disabled = false;
  }
}

async function selectVersion(index, version) {
  const card = state.cards.get(index);
  if (!card || !state.sessionId) return;
  showCardError(card, '');
  try {
    const scene = await api.select(state.sessionId, index, version);
    putScene(scene);
    render();
  } catch (error) {
    showCardError(card, message(error));
    if (state.session) updateSceneCard(card, state.session.scenes[index], state.session);
  }
}

// ---- Finishing ----

async function approveSelected() {
  if (!state.sessionId || !state.session) return;
  ui.finishError.textContent = '';
  const indices = [...state.cards.values()]
    .filter((card) => card.approve.checked && !card.approve.disabled)
    .map((card) => card.index)
    .sort((a, b) => a - b);
  ui.approve.disabled = true;
  try {
    const answer = await api.approve(state.sessionId, indices);
    state.session.download_status = answer.download_status;
    for (const index of indices) state.session.scenes[index].approved = true;
    render();
  } catch (error) {
    ui.finishError.textContent = message(error);
    renderFinish();
  }
}

async function downloadZip() {
  if (!state.sessionId) return;
  ui.finishError.textContent = '';
  ui.download.disabled = true;
  try {
    const response = await api.download(state.sessionId);
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `story_${state.sessionId.slice(0, 8)}.zip`;
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(blob),
      download: name,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  } catch (error) {
    ui.finishError.textContent = message(error);
  } finally {
    renderFinish();
  }
}

void start();
