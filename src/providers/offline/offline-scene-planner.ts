import { MEDIA_PRESETS } from '../media-presets';
import { truncate } from '../prompt-builder';
import { PlanRequest, ScenePlanner, StoryPlan } from '../scene-planner';
import { charactersIn, offlineCastSheet } from './cast-sheet';
import { splitStory } from './story-splitter';

const TITLE_WORDS = 7;
const TITLE_CHARS = 60;

/** A deterministic planner that needs no network: same story, same plan. */
export class OfflineScenePlanner implements ScenePlanner {
  readonly name = 'offline';

  plan(request: PlanRequest): Promise<StoryPlan> {
    const passages = splitStory(request.story, request.numScenes);
    const cast = offlineCastSheet(request.story);
    const warnings =
      passages.length < request.numScenes
        ? [
            `The story could only be split into ${passages.length} scene(s) along sentence boundaries; ` +
              `${request.numScenes} were requested`,
          ]
        : [];
    const scenes = passages.map((passage, i) => ({
      title: titleOf(passage, i),
      passage,
      imagePrompt: `Scene ${i + 1} of ${passages.length}: ${truncate(passage, 700)}`,
      characters: charactersIn(passage, cast),
    }));
    return Promise.resolve({ style: MEDIA_PRESETS[request.mediaType].style, cast, scenes, warnings });
  }
}

/** The opening words of the passage's first sentence, without trailing punctuation. */
export function titleOf(passage: string, index: number): string {
  const firstSentence = passage.split(/(?<=[.!?…。！？])\s/u)[0] ?? passage;
  const cleaned = firstSentence.replace(/^[\s"'“”‘’«»()[\]—–-]+/u, '');
  const words = cleaned.split(/\s+/).filter(Boolean);
  let title =
    words.length > 1
      ? words.slice(0, TITLE_WORDS).join(' ') + (words.length > TITLE_WORDS ? '…' : '')
      : truncate(cleaned, 24);
  title = truncate(title, TITLE_CHARS).replace(/[\s,;:.!?"'“”‘’«»—–-]+(…?)$/u, '$1');
  return title || `Scene ${index + 1}`;
}
