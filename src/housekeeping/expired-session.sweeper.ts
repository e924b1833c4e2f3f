import { Inject, Injectable, Logger } from '@nestjs/common';
import { isSessionId } from '../sessions/session-id';
import { SessionStore } from '../sessions/session.store';
import { IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';

const PAGE = 200;

/**
 * Sessions expire in Redis by TTL; this removes their images from the image storage afterwards (one tick
 * for the whole cluster, so a bucket's objects go whichever machine wrote them), page after page until the
 * backlog is empty. A session whose expiry time has passed but that Redis still holds (TTLs are not exact)
 * is left for a later sweep.
 */
@Injectable()
export class ExpiredSessionSweeper {
  private readonly logger = new Logger('Sweeper');

  constructor(
    private readonly sessions: SessionStore,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
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
          if (isSessionId(id)) await this.storage.removeSession(id);
        } catch (err) {
          // Left in the index for a later sweep; one session whose images cannot go must not stop the others.
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
