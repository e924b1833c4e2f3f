import { CastMember, MediaType } from '../domain/session.model';

export interface PlanRequest {
  story: string;
  mediaType: MediaType;
  numScenes: number;
}

export interface PlannedScene {
  title: string;
  /** The passage of the story this scene shows. */
  passage: string;
  /** What the image shows, before the style line and cast descriptions are added. */
  imagePrompt: string;
  /** Names from the cast sheet that appear in this scene. */
  characters: string[];
}

export interface StoryPlan {
  style: string;
  cast: CastMember[];
  scenes: PlannedScene[];
  warnings: string[];
}

/** Splits a story into scenes with image prompts and a shared cast sheet. */
export interface ScenePlanner {
  readonly name: string;
  plan(request: PlanRequest): Promise<StoryPlan>;
}

export const SCENE_PLANNER = Symbol('SCENE_PLANNER');
