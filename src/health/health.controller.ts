import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Response } from 'express';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { errorEnvelope } from '../http/error-envelope.filter';
import { Public } from '../http/public.decorator';
import { ProviderStatusService } from '../providers/provider-status.service';
import { JobQueue } from '../queue/job-queue.service';
import { RedisService } from '../redis/redis.service';
import { SessionStore } from '../sessions/session.store';
import { IMAGE_STORAGE, ImageStorage, isUsable } from '../storage/image-storage';
import { APP_VERSION } from '../config/version';

// Terminus would document its own 503 body, but a failed probe answers with the error envelope here.
const PROBE_OPTIONS = { noCache: true, swaggerDocumentation: false };

const PROVIDER_STATES = ['available', 'degraded', 'offline', 'not_configured', 'unavailable'];
const PROVIDER_STATE_HELP =
  'degraded: the provider passes its check, but its circuit breaker is open because its requests keep failing; sessions wait for it (PROVIDER_OUTAGE_TOLERANCE_SECONDS)';

class HealthServices {
  @ApiProperty({ enum: PROVIDER_STATES, description: PROVIDER_STATE_HELP }) openrouter!: string;
  @ApiProperty({ enum: PROVIDER_STATES, description: PROVIDER_STATE_HELP }) runware!: string;
  @ApiProperty({ enum: ['available', 'unavailable'] }) redis!: string;
  @ApiProperty({
    enum: ['available', 'unavailable'],
    description: 'The image storage (STORAGE_DRIVER): its folder is writable, or its bucket answers',
  })
  storage!: string;
}

class HealthProviders {
  @ApiProperty({ enum: ['offline', 'openrouter'] }) scene_planner!: string;
  @ApiProperty({ enum: ['offline', 'runware'] }) image_renderer!: string;
}

class HealthView {
  @ApiProperty({ enum: ['healthy', 'unhealthy'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) timestamp!: string;
  @ApiProperty() version!: string;
  @ApiProperty({ type: HealthServices }) services!: HealthServices;
  @ApiProperty({ type: HealthProviders, description: 'Which implementation makes plans and images' })
  providers!: HealthProviders;
  @ApiProperty({ type: 'integer', minimum: 0, nullable: true, description: 'null when Redis is unreachable' })
  active_sessions!: number | null;
  @ApiProperty({ type: 'integer', minimum: 0 }) uptime_seconds!: number;
}

/** An unhealthy answer is the health view with the error envelope's fields too, like every other error. */
class UnhealthyView extends HealthView {
  @ApiProperty() error!: string;
  @ApiProperty({ type: 'integer', enum: [503] }) status_code!: number;
}

class ProbeCheck {
  @ApiProperty({ enum: ['up', 'down'] }) status!: string;
}

const CHECKS_BY_NAME = { type: 'object', additionalProperties: { $ref: getSchemaPath(ProbeCheck) } } as const;

/** What @nestjs/terminus answers for a probe that passes: each check by name with its status. */
class ProbeView {
  @ApiProperty({ enum: ['ok'] }) status!: string;
  @ApiProperty(CHECKS_BY_NAME) info!: Record<string, ProbeCheck>;
  @ApiProperty(CHECKS_BY_NAME) error!: Record<string, ProbeCheck>;
  @ApiProperty(CHECKS_BY_NAME) details!: Record<string, ProbeCheck>;
}

@ApiTags('health')
@ApiExtraModels(ProbeCheck)
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly queue: JobQueue,
    private readonly sessions: SessionStore,
    private readonly providers: ProviderStatusService,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Service health, provider status and live session count' })
  @ApiOkResponse({ type: HealthView, description: 'Healthy' })
  @ApiResponse({
    status: 503,
    type: UnhealthyView,
    description:
      'Redis or the image storage unreachable: the same view with status "unhealthy", plus the envelope fields',
  })
  async getHealth(@Res({ passthrough: true }) res: Response): Promise<HealthView & Record<string, unknown>> {
    const [redisUp, storageUp, services] = await Promise.all([
      this.redis.isReachable(),
      isUsable(this.storage),
      this.providers.statuses(),
    ]);
    const activeSessions = redisUp ? await this.sessions.countActive().catch(() => null) : null;
    const redisHealthy = redisUp && activeSessions !== null;
    const healthy = redisHealthy && storageUp;
    const view = {
      status: healthy ? 'healthy' : 'unhealthy',
      timestamp: new Date().toISOString(),
      version: APP_VERSION,
      services: {
        ...services,
        redis: redisHealthy ? 'available' : 'unavailable',
        storage: storageUp ? 'available' : 'unavailable',
      },
      providers: { scene_planner: this.providers.planner, image_renderer: this.providers.renderer },
      active_sessions: activeSessions,
      uptime_seconds: Math.round(process.uptime()),
    };
    if (healthy) return view;
    // Unhealthy answers carry the error envelope's fields too, like every other error.
    res.status(503);
    const down = [redisHealthy ? null : 'Redis', storageUp ? null : 'the image storage'].filter(Boolean);
    return {
      ...view,
      ...errorEnvelope(503, `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} unreachable`),
      timestamp: view.timestamp,
    };
  }

  @Get('live')
  @HealthCheck(PROBE_OPTIONS)
  @ApiOperation({ summary: 'Liveness probe: the process is up' })
  @ApiOkResponse({ type: ProbeView, description: 'The process is up' })
  getLiveness() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }

  @Get('ready')
  @HealthCheck(PROBE_OPTIONS)
  @ApiOperation({ summary: 'Readiness probe: Redis reachable, queues connected, image storage usable' })
  @ApiOkResponse({ type: ProbeView, description: 'Ready for requests' })
  @ApiErrorResponses({ 503: 'Not ready: Redis, the job queues or the image storage are unreachable' })
  async getReadiness() {
    try {
      return await this.health.check([
        async () => {
          const check = this.indicators.check('redis');
          return (await this.redis.isReachable()) ? check.up() : check.down('unreachable');
        },
        async () => {
          const check = this.indicators.check('queues');
          return (await this.queue.isReady()) ? check.up() : check.down('not connected');
        },
        async () => {
          const check = this.indicators.check('storage');
          return (await isUsable(this.storage)) ? check.up() : check.down('unreachable');
        },
      ]);
    } catch {
      throw new ServiceUnavailableException(
        'Not ready: Redis, the job queues or the image storage are unreachable',
      );
    }
  }
}
