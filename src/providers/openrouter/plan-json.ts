/**
 * Pulls the JSON object out of an LLM reply. Structured outputs make plain JSON the common case, but not
 * every model routed through OpenRouter honours `response_format`: some wrap the object in a ```json fence
 * or in a sentence of prose. Throws an Error with a short reason when no JSON object can be recovered.
 */
export function extractJson(text: string): unknown {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (!trimmed) throw new Error('the reply is empty');

  const direct = tryParse(trimmed);
  if (direct.ok) return direct.value;

  for (const fenced of fencedBlocks(trimmed)) {
    const parsed = tryParse(fenced);
    if (parsed.ok) return parsed.value;
  }

  const objects = balancedObjects(trimmed);
  for (const candidate of objects) {
    const parsed = tryParse(candidate);
    if (parsed.ok) return parsed.value;
  }
  if (objects.length === 0 && trimmed.includes('{')) {
    throw new Error('the reply contains an unterminated JSON object (was it cut off?)');
  }
  if (objects.length === 0) throw new Error('the reply contains no JSON object');
  throw new Error(`the reply is not valid JSON (${direct.error})`);
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

function tryParse(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message.slice(0, 120) : 'parse error' };
  }
}

function fencedBlocks(text: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(/```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n?([\s\S]*?)```/g)) {
    const body = match[1]?.trim();
    if (body) blocks.push(body);
  }
  return blocks;
}

/** At most this many `{` starts are tried, so a long reply full of braces cannot make parsing quadratic. */
const MAX_CANDIDATES = 20;

/**
 * The outermost balanced `{…}` spans, in order, skipping braces inside JSON strings. A span that never
 * closes (a truncated reply) is not returned.
 */
function balancedObjects(text: string): string[] {
  const spans: string[] = [];
  let index = text.indexOf('{');
  while (index !== -1 && spans.length < MAX_CANDIDATES) {
    const end = matchingBrace(text, index);
    if (end === -1) break;
    spans.push(text.slice(index, end + 1));
    index = text.indexOf('{', end + 1);
  }
  return spans;
}

function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}
