import { ConflictException, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { ProviderStatusService } from '../providers/provider-status.service';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from '../sessions/session.store';
import { GenerateRequestDto, GenerateResponseDto } from './generate-request.dto';
import { IdempotencyStore } from './idempotency.store';

/** How long a repeated request waits for its concurrent twin to create the session. */
const IDEMPOTENT_TWIN_WAIT_MS = 5_000;

@Injectable()
export class GenerationService {
  private readonly logger = new Logger('Generation');

  constructor(
    private readonly sessions: SessionStore,
    private readonly queue: JobQueue,
    private readonly providers: ProviderStatusService,
    private readonly idempotency: IdempotencyStore,
  ) {}

  async start(
    request: GenerateRequestDto,
    idempotency?: { key: string; client: string },
  ): Promise<GenerateResponseDto> {
    const unavailable = this.providers.requiredButUnavailable();
    if (unavailable.length > 0) {
      throw new ServiceUnavailableException(`Live providers are not available: ${unavailable.join(', ')}`);
    }
    const id = randomUUID();
    if (idempotency) {
      const earlier = await this.earlierSession(request, idempotency, id);
      if (earlier) return { session_id: earlier, status: 'processing', message: 'Generation started' };
    }
    try {
      await this.createAndQueue(id, request);
    } catch (err) {
      if (idempotency)
        await this.idempotency.release(idempotency.key, idempotency.client, id).catch(() => undefined);
      throw err;
    }
    // The session exists and is queued: a failed extension only lets the key lapse early, no reason to fail.
    if (idempotency)
      await this.idempotency.confirm(idempotency.key, idempotency.client).catch(() => undefined);
    return { session_id: id, status: 'processing', message: 'Generation started' };
  }

  /**
   * The session an identical earlier request created, once it exists; null when this request owns the key.
   * A concurrent twin may still be creating its session (or fail and release the key, which this request
   * then claims), so an id is returned only once `GET /status` can find it.
   */
  private async earlierSession(
    request: GenerateRequestDto,
    idempotency: { key: string; client: string },
    id: string,
  ): Promise<string | null> {
    const body = {
      story_text: request.story_text,
      media_type: request.media_type,
      num_scenes: request.num_scenes,
    };
    const deadline = Date.now() + IDEMPOTENT_TWIN_WAIT_MS;
    for (;;) {
      const earlier = await this.idempotency.claim(idempotency.key, idempotency.client, body, id);
      if (!earlier || (await this.sessions.exists(earlier))) return earlier;
      if (Date.now() > deadline) {
        throw new ConflictException(
          'A request with this Idempotency-Key is still being processed; retry shortly',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private async createAndQueue(id: string, request: GenerateRequestDto): Promise<void> {
    await this.sessions.create({
      id,
      media_type: request.media_type,
      requested_scenes: request.num_scenes,
      story: request.story_text,
      // One seed for every scene of the session keeps their look consistent; Runware takes 1..2^31-1 safely.
      seed: randomInt(1, 2 ** 31 - 1),
    });
    try {
      await this.queue.planStory(id);
    } catch (err) {
      await this.sessions
        .update(id, { status: 'failed', phase: 'failed', error: 'Could not queue the session; please retry' })
        .catch(() => undefined);
      throw err;
    }
    this.logger.log(`Session ${id} queued (${request.num_scenes} scenes, ${request.media_type})`);
  }
}
