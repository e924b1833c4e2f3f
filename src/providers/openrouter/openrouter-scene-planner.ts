import { Logger } from '@nestjs/common';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AppConfig } from '../../config/app-config';
import { isRecord, ProviderError } from '../provider-error';
import { PlanRequest, ScenePlanner, StoryPlan } from '../scene-planner';
import { nodeHttpFetch } from './node-http-fetch';
import { asErrorBody, errorForStatus, mapSdkError, redact, statusOf } from './openrouter-errors';
import { extractJson } from './plan-json';
import { planJsonSchema, validatePlan, ValidPlan } from './plan-validation';
import { capStory, repairPrompt, systemPrompt, userPrompt } from './planner-prompt';

export { extractJson } from './plan-json';
export { validatePlan } from './plan-validation';

/** How much of an invalid reply is sent back in the repair request. */
const MAX_ECHOED_REPLY_CHARS = 30_000;

interface Completion {
  content: string;
  finishReason: string | undefined;
}

type Outcome = { ok: true; plan: ValidPlan } | { ok: false; error: string };

/**
 * Plans a story with an LLM through OpenRouter's OpenAI-compatible API. One client per planner (and one
 * planner per process). The SDK's own retries are off: a failed plan is a failed job, which the job queue
 * retries with backoff, so a retry storm cannot multiply inside one job. Each request has its own deadline
 * (`timeoutMs`), so one plan takes at most two deadlines (first answer plus one repair).
 */
export class OpenRouterScenePlanner implements ScenePlanner {
  readonly name = 'openrouter';
  private readonly logger = new Logger(OpenRouterScenePlanner.name);
  private readonly client: OpenAI;
  private readonly apiKey: string;

  constructor(private readonly config: AppConfig['openrouter']) {
    if (!config.apiKey) throw new Error('OPENROUTER_API_KEY is required for the OpenRouter scene planner');
    this.apiKey = config.apiKey;
    this.client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: 0,
      fetch: nodeHttpFetch,
      // Never forward OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment to OpenRouter.
      organization: null,
      project: null,
      defaultHeaders: {
        // App attribution: https://openrouter.ai/docs/features/app-attribution (X-Title is the older name).
        'HTTP-Referer': config.appUrl,
        'X-OpenRouter-Title': config.appTitle,
        'X-Title': config.appTitle,
      },
    });
  }

  async plan(request: PlanRequest): Promise<StoryPlan> {
    const { numScenes, mediaType } = request;
    const story = capStory(request.story, this.config.maxStoryChars);
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: systemPrompt(numScenes, mediaType) },
      { role: 'user', content: userPrompt(story.text, numScenes, mediaType) },
    ];

    const first = await this.complete(messages, numScenes);
    let outcome = interpret(first, numScenes, this.apiKey);
    if (!outcome.ok) {
      this.logger.warn(`OpenRouter returned an invalid plan (${outcome.error}); asking for one repair`);
      const repair: ChatCompletionMessageParam[] = [
        ...messages,
        { role: 'assistant', content: first.content.slice(0, MAX_ECHOED_REPLY_CHARS) || '(empty reply)' },
        { role: 'user', content: repairPrompt(outcome.error, numScenes, first.finishReason === 'length') },
      ];
      outcome = interpret(await this.complete(repair, numScenes), numScenes, this.apiKey);
      if (!outcome.ok) {
        throw new ProviderError(`The scene planner returned an invalid plan: ${outcome.error}`, false);
      }
    }

    const { style, cast, scenes, droppedCharacters } = outcome.plan;
    if (droppedCharacters.length) {
      // Names come from the model and are unbounded: the line is capped so a reply cannot flood the log.
      const names = redact(droppedCharacters.join(', '), this.apiKey);
      this.logger.log(`Dropped ${droppedCharacters.length} scene character(s) not in the cast: ${names}`);
    }
    const warnings = story.truncated
      ? [`The story is longer than ${this.config.maxStoryChars} characters; only the beginning was planned`]
      : [];
    return { style, cast, scenes, warnings };
  }

  /** One chat completion with its own deadline; every failure comes out as a classified ProviderError. */
  private async complete(messages: ChatCompletionMessageParam[], numScenes: number): Promise<Completion> {
    const { timeoutMs, model } = this.config;
    const controller = new AbortController();
    let deadlineHit = false;
    // The SDK's `timeout` stops at the response headers; this deadline also covers a stalled body.
    const timer = setTimeout(() => {
      deadlineHit = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response: unknown = await this.client.chat.completions.create(
        {
          model,
          messages,
          temperature: 0.4,
          max_tokens: Math.min(16_000, 1_500 + numScenes * 700),
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'story_plan', strict: true, schema: planJsonSchema(numScenes) },
          },
        },
        { signal: controller.signal, timeout: timeoutMs, maxRetries: 0 },
      );
      return readCompletion(response, this.apiKey);
    } catch (err) {
      throw mapSdkError(err, deadlineHit, timeoutMs, this.apiKey);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Reads the parts of a 200 body we rely on, without trusting the SDK's types: OpenRouter adds `error` at
 * the top level and on a choice (with `finish_reason: "error"`) when the model fails mid-answer.
 */
function readCompletion(response: unknown, secret: string): Completion {
  if (!isRecord(response)) throw new ProviderError('OpenRouter returned an unreadable response', true);
  const topError = asErrorBody(response.error);
  const choices = response.choices;
  const choice = Array.isArray(choices) && isRecord(choices[0]) ? choices[0] : undefined;
  const finishReason = typeof choice?.finish_reason === 'string' ? choice.finish_reason : undefined;

  if (finishReason === 'error') {
    const error = asErrorBody(choice?.error) ?? topError;
    const detail = typeof error?.message === 'string' ? `: ${redact(error.message, secret)}` : '';
    throw new ProviderError(`The planning model failed while answering${detail}`, true);
  }
  if (topError) {
    const status = statusOf(topError);
    if (status) throw errorForStatus(status, topError, undefined, secret);
    const detail = typeof topError.message === 'string' ? `: ${redact(topError.message, secret)}` : '';
    throw new ProviderError(`OpenRouter reported an error${detail}`, true);
  }
  if (!choice) throw new ProviderError('OpenRouter returned no choices', true);
  if (finishReason === 'content_filter') {
    throw new ProviderError('OpenRouter refused the story (content filter)', false);
  }
  const message = isRecord(choice.message) ? choice.message : {};
  if (typeof message.refusal === 'string' && message.refusal.trim()) {
    throw new ProviderError(
      `The planning model refused the story: ${redact(message.refusal, secret)}`,
      false,
    );
  }
  return { content: textOf(message.content), finishReason };
}

/** Content is a string, or (with some providers) an array of `{type: 'text', text}` parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => (isRecord(part) && typeof part.text === 'string' ? part.text : ''))
    .join('');
}

function interpret(completion: Completion, numScenes: number, secret: string): Outcome {
  // A reply cut at the token limit is never accepted, even if a JSON object happens to parse.
  if (completion.finishReason === 'length') {
    return { ok: false, error: 'the reply was cut off at the token limit (finish_reason "length")' };
  }
  let raw: unknown;
  try {
    raw = extractJson(completion.content);
  } catch (err) {
    return { ok: false, error: redact(err instanceof Error ? err.message : 'unreadable reply', secret) };
  }
  return validatePlan(raw, numScenes);
}
