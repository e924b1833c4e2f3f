import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../http/api-error.decorator';
import { APP_CONFIG, AppConfig, redactUrl } from '../config/app-config';
import { selectProviders } from '../providers/provider-selection';
import { CurrentTenant, Tenant } from '../auth/tenant';
import { SessionStore } from '../sessions/session.store';
import { IMAGE_STORAGE, ImageStorage, isUsable } from '../storage/image-storage';
import { DebugModeGuard } from './debug.guard';
import { DebugConfigView, DebugSessionsView } from './debug-views';

const DEBUG_ERRORS = { 404: 'DEBUG_MODE is not true' };

const configured = (value: string | undefined) => (value ? 'configured' : 'missing');

@Controller('debug')
@UseGuards(DebugModeGuard)
@ApiTags('debug')
export class DebugController {
  constructor(
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
  ) {}

  @Get('sessions')
  @ApiOperation({ summary: 'Live sessions (only when DEBUG_MODE=true)' })
  @ApiOkResponse({
    type: DebugSessionsView,
    description: "The caller's sessions among the 200 newest live ones",
  })
  @ApiErrorResponses(DEBUG_ERRORS)
  async listDebugSessions(@CurrentTenant() tenant: Tenant): Promise<DebugSessionsView> {
    const ids = await this.sessions.listActive(200);
    // Only the caller's own sessions, as everywhere else.
    const sessions = await Promise.all(ids.map((id) => this.sessions.getFor(id, tenant)));
    const live = sessions.filter((s) => s !== null);
    return {
      // The caller's own: a deployment-wide count would tell one tenant how busy the others are.
      active_sessions: live.length,
      sessions: live.map((s) => ({
        session_id: s.id,
        status: s.status,
        phase: s.phase,
        media_type: s.media_type,
        num_scenes: s.planned ? s.scenes.length : s.requested_scenes,
        download_status: s.download_status,
        created_at: s.created_at,
        last_accessed: s.updated_at,
      })),
    };
  }

  /** Only whether each secret is set, never its value. */
  @Get('config')
  @ApiOperation({ summary: 'Configuration status, never a secret (only when DEBUG_MODE=true)' })
  @ApiOkResponse({ type: DebugConfigView, description: 'The configuration' })
  @ApiErrorResponses(DEBUG_ERRORS)
  async getDebugConfig(): Promise<DebugConfigView> {
    const selection = selectProviders(this.config);
    const usable = await isUsable(this.storage);
    return {
      api_keys: {
        openrouter: configured(this.config.openrouter.apiKey),
        runware: configured(this.config.runware.apiKey),
        api_auth: this.config.apiKeys.length > 0 ? 'configured' : 'missing',
        webhook_secret: configured(this.config.webhooks?.secret),
      },
      providers: {
        mode: this.config.providers,
        scene_planner: selection.planner,
        image_renderer: selection.renderer,
      },
      openrouter: {
        base_url: redactUrl(this.config.openrouter.baseUrl),
        model: this.config.openrouter.model,
      },
      runware: { url: redactUrl(this.config.runware.url) },
      // The image storage is also what /static serves.
      directories: {
        image_generation: usable ? 'exists' : 'missing',
        static_files: usable ? 'exists' : 'missing',
      },
      storage: {
        driver: this.storage.driver,
        location: this.storage.location,
        status: usable ? 'available' : 'unavailable',
      },
      role: this.config.role,
      worker_concurrency: this.config.workerConcurrency,
      session_ttl_hours: this.config.sessionTtlHours,
      image_download_allowed_hosts: this.config.imageDownloadAllowedHosts,
      environment: process.env.NODE_ENV ?? 'development',
    };
  }
}
