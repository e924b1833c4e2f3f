import {
  BadRequestException,
  ConflictException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { Tenant } from '../auth/tenant';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RetryLaterException } from '../http/retry-later.exception';
import { ProviderStatusService } from '../providers/provider-status.service';
import { JobQueue } from '../queue/job-queue.service';
import { SessionFinalizer } from '../sessions/session-finalizer';
import { SessionStore } from '../sessions/session.store';
import { CallbackUrlPolicy, CallbackUrlRefused } from '../webhooks/callback-url-policy';
import { GenerateRequestDto, GenerateResponseDto } from './generate-request.dto';
import { ActiveSessionQuota } from './active-session-quota';
import { IdempotencyStore } from './idempotency.store';

/** How long a repeated request waits for its concurrent twin to create the session. */
const IDEMPOTENT_TWIN_WAIT_MS = 5_000;

/** A session takes tens of seconds; a client at its quota may well find a slot free by then. */
const QUOTA_RETRY_AFTER_SECONDS = 15;

@Injectable()
export class GenerationService {
  private readonly logger = new Logger('Generation');
  private readonly callbacks: CallbackUrlPolicy;

  constructor(
    private readonly sessions: SessionStore,
    private readonly queue: JobQueue,
    private readonly providers: ProviderStatusService,
    private readonly idempotency: IdempotencyStore,
    private readonly quota: ActiveSessionQuota,
    private readonly finalizer: SessionFinalizer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.callbacks = new CallbackUrlPolicy(config.webhooks?.allowedHosts ?? []);
  }

  /**
   * Creates the session of `tenant` and queues its planning. An Idempotency-Key is scoped to the tenant, so
   * two clients never collide and a renamed key's retries still find their session.
   */
  async start(
    request: GenerateRequestDto,
    tenant: Tenant,
    idempotencyKey?: string,
  ): Promise<GenerateResponseDto> {
    const unavailable = this.providers.requiredButUnavailable();
    if (unavailable.length > 0) {
      throw new ServiceUnavailableException(`Live providers are not available: ${unavailable.join(', ')}`);
    }
    if (request.callback_url !== undefined) await this.checkCallbackUrl(request.callback_url);
    const id = randomUUID();
    const idempotency =
      idempotencyKey !== undefined ? { key: idempotencyKey, client: tenant ?? '' } : undefined;
    const releaseKey = () =>
      idempotency
        ? this.idempotency.release(idempotency.key, idempotency.client, id).catch(() => undefined)
        : undefined;
    if (idempotency) {
      const earlier = await this.earlierSession(request, idempotency, id);
      if (earlier) return { session_id: earlier, status: 'processing', message: 'Generation started' };
    }
    // After the idempotency check: a repeat of a request that already has its session is not a new one.
    const reserved = await this.quota.reserve(tenant, id).catch(async (err: unknown) => {
      await releaseKey();
      throw err;
    });
    if (!reserved) {
      await releaseKey();
      throw new RetryLaterException(
        HttpStatus.TOO_MANY_REQUESTS,
        `This API key already has ${this.config.maxActiveSessionsPerKey} sessions processing ` +
          '(MAX_ACTIVE_SESSIONS_PER_KEY); retry when one of them is done',
        QUOTA_RETRY_AFTER_SECONDS,
      );
    }
    try {
      await this.createAndQueue(id, request, tenant);
    } catch (err) {
      await releaseKey();
      await this.quota.release(tenant, id).catch(() => undefined);
      throw err;
    }
    // The session exists and is queued: a failed extension only lets the key lapse early, no reason to fail.
    if (idempotency)
      await this.idempotency.confirm(idempotency.key, idempotency.client, id).catch(() => undefined);
    return { session_id: id, status: 'processing', message: 'Generation started' };
  }

  /** Before anything is created or queued: a callback_url nothing may deliver to is the client's 400. */
  private async checkCallbackUrl(url: string): Promise<void> {
    if (!this.config.webhooks)
      throw new BadRequestException(
        'callback_url is not accepted: webhooks are not configured (WEBHOOK_SECRET)',
      );
    try {
      await this.callbacks.target(url);
    } catch (err) {
      if (err instanceof CallbackUrlRefused) throw new BadRequestException(err.message);
      throw err;
    }
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
      ...(request.callback_url !== undefined ? { callback_url: request.callback_url } : {}),
    };
    const deadline = Date.now() + IDEMPOTENT_TWIN_WAIT_MS;
    for (;;) {
      const earlier = await this.idempotency.claim(idempotency.key, idempotency.client, body, id);
      if (!earlier) return null;
      if (await this.sessions.exists(earlier.sessionId)) return earlier.sessionId;
      if (earlier.confirmed) {
        // Its session existed and has expired: the key is free again, for a new session.
        await this.idempotency.release(idempotency.key, idempotency.client, earlier.sessionId);
        continue;
      }
      if (Date.now() > deadline) {
        throw new ConflictException(
          'A request with this Idempotency-Key is still being processed; retry shortly',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  private async createAndQueue(id: string, request: GenerateRequestDto, owner: Tenant): Promise<void> {
    await this.sessions.create({
      id,
      owner,
      media_type: request.media_type,
      requested_scenes: request.num_scenes,
      story: request.story_text,
      // One seed for every scene of the session keeps their look consistent; Runware takes 1..2^31-1 safely.
      seed: randomInt(1, 2 ** 31 - 1),
      callbackUrl: request.callback_url,
    });
    try {
      await this.queue.planStory(id);
    } catch (err) {
      await this.finalizer.fail(id, 'Could not queue the session; please retry').catch(() => undefined);
      throw err;
    }
    this.logger.log(`Session ${id} queued (${request.num_scenes} scenes, ${request.media_type})`);
  }
}
