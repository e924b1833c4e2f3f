import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { withJobContext } from '../common/log-context';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IMAGE_FETCHER, ImageFetcher } from '../providers/image-fetcher';
import { ProviderError, userMessage } from '../providers/provider-error';
import { failedForGood, isFinalFailure, runHandler, unknownJob } from '../queue/failure-policy';
import { JobName, JobOf, JobProcessor, QueueName } from '../domain/jobs';
import {
  drawnPortrait,
  ImageSource,
  SceneDownload,
  SceneRecord,
  SessionRecord,
} from '../domain/session.model';
import { SessionStore } from '../sessions/session.store';
import { forEachWithLimit } from '../common/concurrency';
import { IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';
import { downloadKey, portraitFileBase, sceneFileBase } from '../storage/image-keys';
import { WebhookEvents } from '../sessions/webhook-events';
import { StoryboardService } from './storyboard/storyboard.service';
import { ZipExportService } from './zip-export.service';

/**
 * Fetches the approved scenes' images into the image storage as <session>/scene_NN.<ext>, a few at a time. A retried
 * job skips scenes already fetched or already failed for good, so each approved scene ends with exactly one
 * file or one error. Then it builds the export's storyboard PDF, so the first export finds it ready.
 */
@Processor(QueueName.Download)
export class DownloadProcessor extends WorkerHost implements JobProcessor {
  readonly queue = QueueName.Download;
  readonly handles = [JobName.DownloadImages];
  private readonly logger = new Logger('Download');

  constructor(
    private readonly sessions: SessionStore,
    @Inject(IMAGE_FETCHER) private readonly fetcher: ImageFetcher,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly webhooks: WebhookEvents,
    private readonly zip: ZipExportService,
    private readonly storyboard: StoryboardService,
  ) {
    super();
  }

  process(job: JobOf<JobName.DownloadImages>): Promise<void> {
    return runHandler(() => (job.name === JobName.DownloadImages ? this.download(job) : unknownJob(job)));
  }

  /** A download that failed for good, however it failed: the session must not stay "started". */
  @OnWorkerEvent('failed')
  onFailed(job: JobOf<JobName.DownloadImages> | undefined): Promise<void> {
    // BullMQ emits this outside the job's run: its log lines get the job's ids here.
    return withJobContext(job ?? {}, () => this.recordFailure(job));
  }

  private async recordFailure(job: JobOf<JobName.DownloadImages> | undefined): Promise<void> {
    try {
      if (!job || !(await failedForGood(job))) return;
      const { sessionId } = job.data;
      const session = await this.sessions.get(sessionId);
      if (!session || session.download_status !== 'started') return;
      await this.sessions.update(sessionId, {
        download_status: 'failed',
        download_error: 'The download could not be completed',
        downloaded_at: new Date().toISOString(),
      });
      await this.webhooks.downloadEnded(sessionId);
    } catch (err) {
      this.logger.warn(`Could not record the failure of job ${job?.id}: ${String(err)}`);
    }
  }

  async download(job: Job<{ sessionId: string }>): Promise<void> {
    const { sessionId } = job.data;
    const session = await this.sessions.get(sessionId);
    if (!session || session.download_status !== 'started') return;

    // A scene fetched, or failed for good, by an earlier attempt is not fetched again.
    const pending = session.approved.filter((index) => !session.downloads[index]);
    const failed = new Set(session.approved.filter((index) => session.downloads[index]?.status === 'failed'));
    let retryLater = 0;
    await forEachWithLimit(pending, this.config.downloadConcurrency, async (index) => {
      try {
        await this.fetchScene(sessionId, index, session.scenes[index]);
      } catch (err) {
        if (!(err instanceof ProviderError))
          this.logger.warn(`Scene ${index} of ${sessionId}: ${String(err)}`);
        if (!isFinalFailure(err, job)) {
          retryLater++;
          return;
        }
        failed.add(index);
        await this.saveFailure(sessionId, index, err);
      }
    });
    if (retryLater > 0) throw new Error(`${retryLater} image download(s) failed; retrying`);
    await this.fetchPortraits(session);
    if (this.config.exportStoryboard) await this.prepareStoryboard(sessionId);

    const numbers = [...failed].sort((a, b) => a - b).map((index) => index + 1);
    await this.sessions.update(sessionId, {
      // "completed" only when every approved scene arrived; the scenes that did arrive still export.
      download_status: numbers.length === 0 ? 'completed' : 'failed',
      download_error: numbers.length === 0 ? null : `Could not download scene(s) ${numbers.join(', ')}`,
      downloaded_at: new Date().toISOString(),
    });
    await this.webhooks.downloadEnded(sessionId);
  }

  private async fetchScene(sessionId: string, index: number, scene: SceneRecord | undefined): Promise<void> {
    if (!scene?.source) throw new ProviderError('The scene has no rendered image to download', false);
    await this.sessions.saveDownload(
      sessionId,
      index,
      await this.copy(sessionId, scene.source, sceneFileBase(index)),
    );
  }

  /** Fetches an image into the image storage as <session>/<base>.<ext>; what to record of it. */
  private async copy(sessionId: string, source: ImageSource, base: string): Promise<SceneDownload> {
    const image = await this.fetcher.open(source);
    const file = `${base}.${image.ext}`;
    try {
      const stored = await this.storage.write(downloadKey(sessionId, file), image.body, image.contentType);
      return {
        status: 'done',
        file,
        bytes: stored.bytes,
        content_type: image.contentType,
        error: null,
        crc32: stored.crc32,
      };
    } finally {
      image.cancel();
    }
  }

  /**
   * Builds the storyboard PDF of the images that arrived before the download is reported over, so the
   * first export streams it instead of building it while its client waits. Best effort: a failure is
   * logged and the download still completes; the export then builds the PDF itself.
   */
  private async prepareStoryboard(sessionId: string): Promise<void> {
    try {
      const [session, story] = await Promise.all([
        this.sessions.get(sessionId),
        this.sessions.getStory(sessionId),
      ]);
      if (!session) return;
      const exported = await this.zip.collectImages(session);
      if (exported.images.length > 0) await this.storyboard.prepare(session, story ?? '', exported);
    } catch (err) {
      this.logger.warn(
        `The storyboard PDF of ${sessionId} was not built ahead of its export: ${String(err)}`,
      );
    }
  }

  /**
   * Copies the cast's current portraits for the export (`cast/<name>.<ext>` in the ZIP). Best effort: a
   * portrait that cannot be fetched is left out of the ZIP and logged; the scenes' download is what the
   * session reports.
   */
  private async fetchPortraits(session: SessionRecord): Promise<void> {
    const wanted = session.cast.flatMap((member, castIndex) => {
      // The current version once drawn; while a redraw renders (or after it failed), the last one drawn.
      const portrait = drawnPortrait(member.portrait);
      const copied = session.cast_downloads[castIndex];
      if (!portrait?.source) return [];
      if (copied?.status === 'done' && copied.version === portrait.version) return [];
      return [{ castIndex, member, portrait }];
    });
    await forEachWithLimit(
      wanted,
      this.config.downloadConcurrency,
      async ({ castIndex, member, portrait }) => {
        try {
          const copied = await this.copy(
            session.id,
            portrait.source as ImageSource,
            portraitFileBase(castIndex),
          );
          await this.sessions.saveCastDownload(session.id, castIndex, {
            ...copied,
            version: portrait.version,
          });
        } catch (err) {
          this.logger.warn(
            `The portrait of ${member.name} in ${session.id} was not copied: ${userMessage(err)}`,
          );
          await this.sessions.saveCastDownload(session.id, castIndex, {
            ...failedDownload(err),
            version: portrait.version,
          });
        }
      },
    );
  }

  /** A failure retrying cannot mend (or the last attempt's), kept so the scene is not fetched again. */
  private async saveFailure(sessionId: string, index: number, err: unknown): Promise<void> {
    await this.sessions.saveDownload(sessionId, index, failedDownload(err));
  }
}

/** The record of an image that could not be copied, with what users are told. */
function failedDownload(err: unknown): SceneDownload {
  return { status: 'failed', file: null, bytes: null, content_type: null, error: userMessage(err) };
}
