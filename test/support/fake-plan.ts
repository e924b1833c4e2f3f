/**
 * Builds the plan a well-behaved model would return for a chat completion request, so the fake
 * OpenRouter can answer any planner prompt with a valid, story-specific plan.
 */

export interface FakePlan {
  style: string;
  cast: { name: string; description: string }[];
  scenes: { title: string; passage: string; image_prompt: string; characters: string[] }[];
}

interface ChatMessage {
  role?: unknown;
  content?: unknown;
}

const OPEN = '<story>';
const CLOSE = '</story>';

/**
 * The story between the delimiters in the first user message that has them (a system prompt may mention
 * the delimiters while describing them); otherwise the whole last user message.
 */
export function storyFrom(messages: ChatMessage[]): string {
  const texts = messages.filter((m) => m.role === 'user').map((m) => textOf(m.content));
  for (const text of texts) {
    const start = text.indexOf(OPEN);
    const end = text.lastIndexOf(CLOSE);
    if (start !== -1 && end > start) return text.slice(start + OPEN.length, end).trim();
  }
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return lastUser ? textOf(lastUser.content).trim() : '';
}

/** From the json_schema (`scenes.minItems`), else from the prompt text, else 3. */
export function sceneCountFrom(body: Record<string, unknown>, messages: ChatMessage[]): number {
  const schema = (body.response_format as { json_schema?: { schema?: unknown } } | undefined)?.json_schema
    ?.schema;
  const minItems = (schema as { properties?: { scenes?: { minItems?: unknown } } } | undefined)?.properties
    ?.scenes?.minItems;
  if (typeof minItems === 'number' && minItems > 0) return minItems;
  const text = messages.map((m) => textOf(m.content)).join('\n');
  const match = /Number of scenes:\s*(\d+)/i.exec(text) ?? /exactly (\d+) scenes?/i.exec(text);
  return match ? Math.max(1, Number(match[1])) : 3;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) =>
        typeof (p as { text?: unknown })?.text === 'string' ? (p as { text: string }).text : '',
      )
      .join('');
  }
  return '';
}

export function fakePlan(story: string, numScenes: number): FakePlan {
  const passages = splitInto(story || 'An empty page.', numScenes);
  const cast = recurringNames(story).map((name) => ({ name, description: lookOf(name) }));
  return {
    style: 'Soft painterly light, muted palette, consistent character design',
    cast,
    scenes: passages.map((passage, i) => ({
      title: `Scene ${i + 1}: ${passage.split(/\s+/).slice(0, 5).join(' ')}`.slice(0, 100),
      passage,
      image_prompt: `Illustration of this moment: ${passage.slice(0, 600)}`,
      characters: cast.filter((member) => passage.includes(member.name)).map((member) => member.name),
    })),
  };
}

const AGES = ['a child of about nine', 'a woman in her thirties', 'a man in his fifties', 'a teenage boy'];
const BUILDS = ['slight build', 'stocky build', 'tall and lean', 'average build'];
const HAIR = ['short black curls', 'long red braids', 'grey hair in a low bun', 'messy sandy-blond hair'];
const CLOTHES = [
  'a green wool coat over a yellow jumper and brown boots',
  'a navy pea jacket, grey trousers and black boots',
  'a patched orange raincoat, blue jeans and red wellingtons',
  'a cream knitted cardigan, a plaid skirt and brown shoes',
];
const PALETTES = [
  'green, mustard and brown',
  'navy, grey and white',
  'orange, blue and red',
  'cream and plaid red',
];

/**
 * What a model answers for "age, build, hair, clothing, palette": concrete, and the same for the same name
 * (picked by a hash of it), so tests can tell characters apart by their descriptions.
 */
export function lookOf(name: string): string {
  let hash = 7;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const pick = (items: string[], shift: number) => items[(hash >>> shift) % items.length];
  return (
    `${pick(AGES, 0)}, ${pick(BUILDS, 3)}, ${pick(HAIR, 6)}; wears ${pick(CLOTHES, 9)}; ` +
    `palette ${pick(PALETTES, 12)}`
  );
}

/** Splits along sentences into exactly `n` non-empty parts (falls back to words, then repeats). */
function splitInto(story: string, n: number): string[] {
  const sentences =
    story
      .match(/[^.!?…]+[.!?…]*["'”’)]*\s*/g)
      ?.map((s) => s.trim())
      .filter(Boolean) ?? [];
  const units = sentences.length >= n ? sentences : story.split(/\s+/).filter(Boolean);
  if (units.length < n)
    return Array.from({ length: n }, (_, i) => units[i % Math.max(1, units.length)] ?? story);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * units.length) / n);
    const to = Math.floor(((i + 1) * units.length) / n);
    parts.push(units.slice(from, to).join(' ').slice(0, 4000));
  }
  return parts;
}

const COMMON = new Set([
  'The',
  'A',
  'An',
  'He',
  'She',
  'It',
  'They',
  'We',
  'I',
  'In',
  'On',
  'At',
  'But',
  'And',
  'Then',
]);

function recurringNames(story: string): string[] {
  const counts = new Map<string, number>();
  for (const match of story.matchAll(/\b[A-Z][a-z]{1,20}\b/g)) {
    if (!COMMON.has(match[0])) counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
  }
  return [...counts.entries()]
    .filter(([, count]) => count >= 2)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([name]) => name);
}
