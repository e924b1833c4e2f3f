import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import type { Response } from 'express';
import { errorEnvelope } from '../http/error-envelope.filter';
import { Public } from '../http/public.decorator';
import { ProviderStatusService } from '../providers/provider-status.service';
import { JobQueue } from '../queue/job-queue.service';
import { RedisService } from '../redis/redis.service';
import { SessionStore } from '../sessions/session.store';
import { APP_VERSION } from '../config/version';

class HealthServices {
  @ApiProperty({ enum: ['available', 'offline', 'not_configured', 'unavailable'] }) openrouter!: string;
  @ApiProperty({ enum: ['available', 'offline', 'not_configured', 'unavailable'] }) runware!: string;
  @ApiProperty({ enum: ['available', 'unavailable'] }) redis!: string;
}

class HealthProviders {
  @ApiProperty({ enum: ['offline', 'openrouter'] }) scene_planner!: string;
  @ApiProperty({ enum: ['offline', 'runware'] }) image_renderer!: string;
}

class HealthView {
  @ApiProperty({ enum: ['healthy', 'unhealthy'] }) status!: string;
  @ApiProperty() timestamp!: string;
  @ApiProperty() version!: string;
  @ApiProperty({ type: HealthServices }) services!: HealthServices;
  @ApiProperty({ type: HealthProviders, description: 'Which implementation makes plans and images' })
  providers!: HealthProviders;
  @ApiProperty({ nullable: true, type: Number }) active_sessions!: number | null;
  @ApiProperty() uptime_seconds!: number;
}

@ApiTags('health')
@Controller('health')
@Public()
@SkipThrottle()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly queue: JobQueue,
    private readonly sessions: SessionStore,
    private readonly providers: ProviderStatusService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Service health, provider status and live session count' })
  @ApiOkResponse({ type: HealthView })
  @ApiResponse({ status: 503, description: 'Redis unreachable: same body with status "unhealthy"' })
  async overview(@Res({ passthrough: true }) res: Response): Promise<HealthView & Record<string, unknown>> {
    const [redisUp, services] = await Promise.all([this.redis.isReachable(), this.providers.statuses()]);
    const activeSessions = redisUp ? await this.sessions.countActive().catch(() => null) : null;
    const healthy = redisUp && activeSessions !== null;
    const view = {
      status: healthy ? 'healthy' : 'unhealthy',
      timestamp: new Date().toISOString(),
      version: APP_VERSION,
      services: { ...services, redis: healthy ? 'available' : 'unavailable' },
      providers: { scene_planner: this.providers.planner, image_renderer: this.providers.renderer },
      active_sessions: activeSessions,
      uptime_seconds: Math.round(process.uptime()),
    };
    if (healthy) return view;
    // Unhealthy answers carry the error envelope's fields too, like every other error.
    res.status(503);
    return { ...view, ...errorEnvelope(503, 'Redis is unreachable'), timestamp: view.timestamp };
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness probe: the process is up' })
  live() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness probe: Redis reachable and queues connected' })
  async ready() {
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
      ]);
    } catch {
      throw new ServiceUnavailableException('Not ready: Redis or the job queues are unreachable');
    }
  }
}
