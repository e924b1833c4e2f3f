import { Storyboard, StoryboardScene } from './storyboard-content';

/**
 * storyboard.html: the storyboard as one self-contained page that opens from the unzipped folder. The
 * images are the ZIP's own, by relative path (`images/scene_01.png`), so nothing is embedded twice and
 * nothing is fetched from elsewhere; the style is inline and there is no script. Every text comes from
 * users (story, titles, descriptions) and is escaped. The policy in the <meta> tag is a second line of
 * defence: no script runs and nothing loads but the folder's images even if escaping were ever wrong.
 */
export function storyboardHtml(board: Storyboard): string {
  const count = board.scenes.length;
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(board.heading)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<header class="title-page">
<p class="label">Storyboard</p>
<h1>${escape(board.heading)}</h1>
<dl>
<dt>Media type</dt><dd>${escape(board.mediaType)}</dd>
<dt>Scenes</dt><dd>${count}</dd>
<dt>Date</dt><dd><time datetime="${board.date}">${board.date}</time></dd>
</dl>
</header>
<main>
${board.scenes.map(sceneFigure).join('\n')}
</main>
</body>
</html>
`;
}

function sceneFigure(scene: StoryboardScene): string {
  const label = `Scene ${scene.sceneNumber}`;
  return `<figure class="scene" id="scene-${scene.sceneNumber}">
<img src="${escape(`images/${scene.image.file}`)}" alt="${escape(`${label}: ${scene.title}`)}">
<figcaption>
<h2><span class="number">${label}</span> ${escape(scene.title)}</h2>
<p>${escape(scene.description)}</p>
</figcaption>
</figure>`;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in text and in quoted attribute values alike. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char]);
}

/** One page per scene when printed, like the PDF; descriptions keep their line breaks. */
const STYLE = `:root { color-scheme: light; font-family: "DejaVu Sans", system-ui, sans-serif; color: #1d1d1f; }
body { margin: 0 auto; max-width: 60rem; padding: 2rem 1.5rem; line-height: 1.5; }
.title-page { padding: 4rem 0 3rem; border-bottom: 1px solid #d0d0d5; }
.label { text-transform: uppercase; letter-spacing: 0.12em; color: #6e6e73; margin: 0; }
h1 { font-size: 2rem; margin: 0.5rem 0 1.5rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dt { color: #6e6e73; }
dd { margin: 0; }
.scene { margin: 3rem 0; }
.scene img { display: block; max-width: 100%; max-height: 80vh; height: auto; margin: 0 auto; }
h2 { font-size: 1.3rem; margin: 1rem 0 0.5rem; overflow-wrap: anywhere; }
.number { color: #6e6e73; font-weight: normal; margin-right: 0.5rem; }
figcaption p { white-space: pre-wrap; margin: 0; }
@media print {
  body { max-width: none; padding: 0; }
  .title-page { border: 0; }
  .scene { break-before: page; margin: 0; }
  .scene img { max-height: 60vh; }
}`;
