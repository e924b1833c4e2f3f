import { Inject, Injectable, Logger } from '@nestjs/common';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { isSessionId } from '../sessions/session-id';
import { SessionStore } from '../sessions/session.store';

const PAGE = 200;

/**
 * Sessions expire in Redis by TTL; this removes their image folders afterwards, page after page until the
 * backlog is empty. A session whose expiry time has passed but that Redis still holds (TTLs are not exact)
 * is left for a later sweep.
 */
@Injectable()
export class ExpiredSessionSweeper {
  private readonly logger = new Logger('Sweeper');

  constructor(
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Returns how many expired sessions' files it removed. */
  async sweep(): Promise<number> {
    let removed = 0;
    let stillHeld = 0;
    for (;;) {
      const expired = await this.sessions.listExpired(PAGE, stillHeld);
      const gone: string[] = [];
      for (const id of expired) {
        if (await this.sessions.exists(id)) {
          stillHeld++;
          continue;
        }
        try {
          if (isSessionId(id))
            await rm(path.join(this.config.imageDir, id), { recursive: true, force: true });
        } catch (err) {
          // Left in the index for a later sweep; one folder that cannot go must not stop the others.
          this.logger.warn(`Could not remove the files of expired session ${id}: ${(err as Error).message}`);
          stillHeld++;
          continue;
        }
        gone.push(id);
      }
      await this.sessions.forgetExpired(gone);
      removed += gone.length;
      if (expired.length < PAGE) break;
    }
    if (removed > 0) this.logger.log(`Removed files of ${removed} expired session(s)`);
    return removed;
  }
}
