// One scene's card: its image (or why there is none yet), title and description, its prompt to edit and
// render again, its versions, and the checkbox that approves it. Controls are named after the scene
// number ("Approve scene 2"), so assistive tech, and tests, find them by name.

import { el } from './dom.js';

/**
 * @param {any} scene a scene of GET /status
 * @param {{ onRegenerate: (index: number, prompt: string | undefined) => void,
 *           onSelectVersion: (index: number, version: number) => void,
 *           onApproveToggle: () => void }} actions
 */
export function createSceneCard(scene, actions) {
  const n = scene.scene_number;
  const ids = (name) => `scene-${n}-${name}`;
  const card = {
    index: scene.index,
    /** The prompt was edited here and not yet sent: incoming updates must not overwrite it. */
    promptEdited: false,
    actionError: '',
    root: el('article', { className: 'card', 'aria-labelledby': ids('title') }),
    figure: el('div', { className: 'figure' }),
    title: el('h3', { id: ids('title') }),
    characters: el('p', { className: 'characters hint' }),
    description: el('p', { className: 'description' }),
    prompt: el('textarea', { id: ids('prompt'), rows: 4 }),
    regenerate: el('button', { type: 'button', className: 'secondary' }, `Regenerate scene ${n}`),
    versions: el('select', { id: ids('version') }),
    versionField: el('div', { className: 'field versions' }),
    approve: el('input', { type: 'checkbox', id: ids('approve') }),
    state: el('p', { className: 'hint scene-state' }),
    error: el('p', { className: 'error', role: 'alert' }),
  };

  card.versionField.append(el('label', { htmlFor: ids('version') }, `Version of scene ${n}`), card.versions);
  const promptField = el(
    'details',
    { className: 'prompt' },
    el('summary', {}, 'Prompt'),
    el(
      'div',
      { className: 'field' },
      el('label', { htmlFor: ids('prompt') }, `Prompt for scene ${n}`),
      card.prompt,
    ),
    card.regenerate,
  );
  card.root.append(
    card.figure,
    el(
      'div',
      { className: 'body' },
      card.title,
      card.characters,
      card.description,
      card.state,
      promptField,
      card.versionField,
      el(
        'div',
        { className: 'approve' },
        card.approve,
        el('label', { htmlFor: ids('approve') }, `Approve scene ${n}`),
      ),
      card.error,
    ),
  );

  card.prompt.addEventListener('input', () => {
    card.promptEdited = true;
  });
  card.regenerate.addEventListener('click', () => {
    const prompt = card.prompt.value.trim();
    actions.onRegenerate(card.index, card.promptEdited && prompt ? prompt : undefined);
  });
  card.versions.addEventListener('change', () => {
    actions.onSelectVersion(card.index, Number(card.versions.value));
  });
  card.approve.addEventListener('change', () => actions.onApproveToggle());
  return card;
}

/** Shows the scene as it is now; `session` decides what may still be changed. */
export function updateSceneCard(card, scene, session) {
  const n = scene.scene_number;
  const approvedSession = session.download_status !== 'not_started';
  const busy = scene.status === 'rendering' || scene.status === 'pending';

  showFigure(card, scene);
  card.title.textContent = `Scene ${n}: ${scene.title ?? ''}`;
  card.description.textContent = scene.description ?? '';
  const cast = Array.isArray(scene.characters) ? scene.characters : [];
  card.characters.textContent = cast.length > 0 ? `With ${cast.join(', ')}` : '';
  card.characters.hidden = cast.length === 0;
  if (!card.promptEdited && document.activeElement !== card.prompt)
    card.prompt.value = scene.image_prompt ?? '';

  card.state.textContent = sceneState(scene);
  card.root.dataset.status = scene.status;
  card.regenerate.disabled = approvedSession || busy || session.status === 'failed';
  card.prompt.readOnly = approvedSession;

  const versions = Array.isArray(scene.versions) ? scene.versions : [];
  card.versionField.hidden = versions.length < 2;
  const options = versions.map((v) =>
    el(
      'option',
      { value: String(v.version) },
      `Version ${v.version}${v.status === 'done' ? '' : ` (${v.status})`}`,
    ),
  );
  const signature = versions.map((v) => `${v.version}:${v.status}`).join(',');
  if (card.versions.dataset.signature !== signature) {
    card.versions.replaceChildren(...options);
    card.versions.dataset.signature = signature;
  }
  card.versions.value = String(scene.version ?? 1);
  card.versions.disabled = approvedSession || busy;

  card.approve.disabled = approvedSession || session.status !== 'completed' || scene.status !== 'done';
  if (approvedSession) card.approve.checked = scene.approved === true;
  else if (scene.status !== 'done') card.approve.checked = false;

  const failure = scene.status === 'failed' && scene.error ? `Scene ${n} failed: ${scene.error}` : '';
  card.error.textContent = card.actionError || failure;
}

/** What went wrong with an action on this card (a refused regeneration, say); '' clears it. */
export function showCardError(card, message) {
  card.actionError = message;
  card.error.textContent = message;
}

function showFigure(card, scene) {
  const url = scene.image_url;
  const current = card.figure.querySelector('img');
  if (url && current && current.dataset.url === url) {
    current.alt = `Scene ${scene.scene_number}: ${scene.title ?? ''}`;
    return;
  }
  if (url) {
    const img = el('img', {
      src: url,
      alt: `Scene ${scene.scene_number}: ${scene.title ?? ''}`,
      loading: 'eager',
    });
    img.dataset.url = url;
    card.figure.replaceChildren(img);
    return;
  }
  const text =
    scene.status === 'failed' ? 'No image' : scene.status === 'rendering' ? 'Rendering…' : 'Waiting…';
  card.figure.replaceChildren(el('div', { className: 'placeholder' }, text));
}

function sceneState(scene) {
  const version = scene.version > 1 ? ` · version ${scene.version}` : '';
  if (scene.status === 'done') return `Ready${version}`;
  if (scene.status === 'rendering') return `Rendering${version}…`;
  if (scene.status === 'failed') return `Failed${version}`;
  return 'Waiting to render';
}
