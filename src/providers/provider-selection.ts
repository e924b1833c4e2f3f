import { AppConfig } from '../config/app-config';

export type PlannerKind = 'offline' | 'openrouter';
export type RendererKind = 'offline' | 'runware';

/** AI_PROVIDERS=auto uses a live provider wherever its key is set; `offline` never does; `live` always does. */
export function selectProviders(config: AppConfig): { planner: PlannerKind; renderer: RendererKind } {
  const live = (key: string | undefined) =>
    config.providers === 'live' || (config.providers === 'auto' && key !== undefined);
  return {
    planner: live(config.openrouter.apiKey) ? 'openrouter' : 'offline',
    renderer: live(config.runware.apiKey) ? 'runware' : 'offline',
  };
}
