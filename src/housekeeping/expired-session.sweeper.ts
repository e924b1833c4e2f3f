import { Inject, Injectable, Logger } from '@nestjs/common';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { isSessionId } from './session-id';
import { SessionStore } from './session.store';

/**
 * Sessions expire in Redis by TTL; this removes their image folders afterwards. Every worker may sweep:
 * removing a folder twice is harmless.
 */
@Injectable()
export class ExpiredSessionSweeper {
  private readonly logger = new Logger('Sweeper');

  constructor(
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async sweep(): Promise<number> {
    const expired = await this.sessions.listExpired(200);
    const gone: string[] = [];
    for (const id of expired) {
      if (await this.sessions.exists(id)) continue;
      if (isSessionId(id)) await rm(path.join(this.config.imageDir, id), { recursive: true, force: true });
      gone.push(id);
    }
    await this.sessions.forgetExpired(gone);
    if (gone.length > 0) this.logger.log(`Removed files of ${gone.length} expired session(s)`);
    return gone.length;
  }
}
