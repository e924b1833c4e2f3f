import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { ProviderStatusService } from '../providers/provider-status.service';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from '../sessions/session.store';
import { GenerateRequestDto, GenerateResponseDto } from './generate-request.dto';
import { IdempotencyStore } from './idempotency.store';

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
      const body = {
        story_text: request.story_text,
        media_type: request.media_type,
        num_scenes: request.num_scenes,
      };
      const earlier = await this.idempotency.claim(idempotency.key, idempotency.client, body, id);
      if (earlier) return { session_id: earlier, status: 'processing', message: 'Generation started' };
    }
    try {
      await this.createAndQueue(id, request);
    } catch (err) {
      if (idempotency)
        await this.idempotency.release(idempotency.key, idempotency.client).catch(() => undefined);
      throw err;
    }
    return { session_id: id, status: 'processing', message: 'Generation started' };
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
