import { CanActivate, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/** Debug routes do not exist unless DEBUG_MODE=true: a 404, not a 403, so they are not advertised. */
@Injectable()
export class DebugModeGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(): boolean {
    if (!this.config.debugMode) throw new NotFoundException('Not found');
    return true;
  }
}
