import { Controller, Get, Inject, NotFoundException, Res, SetMetadata } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IS_PUBLIC } from '../http/public.decorator';
import { metricsRegistry } from '../common/metrics';

/**
 * GET /metrics in Prometheus' text format. Open like the health probes, since scrapers carry no API key and
 * workers' health port has none: keep it off the public network (README). Unlike the probes it is rate
 * limited (each scrape runs a Redis script per queue), which a scraper every few seconds never meets. Not
 * part of the client API, so left out of the OpenAPI document.
 */
@ApiExcludeController()
@SetMetadata(IS_PUBLIC, true)
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    // The same answer as a path that does not exist, so a disabled endpoint tells nothing.
    if (!this.config.metricsEnabled) throw new NotFoundException('Cannot GET /metrics');
    const text = await metricsRegistry.metrics();
    // end(), not send(): Express would add a charset to prom-client's exact content type.
    res.setHeader('Content-Type', metricsRegistry.contentType);
    res.end(text);
  }
}
