import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ExpiredSessionSweeper } from './expired-session.sweeper';
import { StalledSessionWatchdog } from './stalled-session.watchdog';

const EVERY_MS = 60_000;

/** Worker-side upkeep, once a minute: remove expired sessions' files, stop stalled sessions. */
@Injectable()
export class SessionHousekeeping implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sweeper: ExpiredSessionSweeper,
    private readonly watchdog: StalledSessionWatchdog,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      void this.sweeper.sweep().catch(() => undefined);
      void this.watchdog.check().catch(() => undefined);
    }, EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
