import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ExpiredSessionSweeper } from './expired-session.sweeper';
import { StalledSessionWatchdog } from './stalled-session.watchdog';

/** Worker-side upkeep every HOUSEKEEPING_INTERVAL_MS: remove expired sessions' files, stop stalled sessions. */
@Injectable()
export class SessionHousekeeping implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sweeper: ExpiredSessionSweeper,
    private readonly watchdog: StalledSessionWatchdog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      void this.sweeper.sweep().catch(() => undefined);
      void this.watchdog.check().catch(() => undefined);
    }, this.config.housekeepingIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
