import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { DelayedError, Job } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { JobName, SessionJob } from '../domain/jobs';
import { decideOnFailure, maxJitterMs } from '../providers/outage/outage-decision';
import { GuardedProvider, PROVIDER_LABELS, ProviderBreaker } from '../providers/outage/provider-breaker';
import { shownDuration } from '../providers/provider-error';
import { withoutLogContext } from '../common/log-context';
import { JobQueue } from '../queue/job-queue.service';
import { SessionStore } from '../sessions/session.store';

/** The jobs that call each provider: every one of them may be waiting for it. */
const JOBS_OF: Record<GuardedProvider, readonly JobName[]> = {
  openrouter: [JobName.PlanStory],
  runware: [JobName.RenderScene, JobName.RenderPortrait],
};

/**
 * Generation jobs riding out a provider outage. A job whose provider is down (see decideOnFailure) goes
 * back to the queue's delayed set until the next probe is due, without spending an attempt, and its
 * session shows a warning; once the provider answers the job again, the warning goes. Past the outage
 * tolerance the job fails for good, with an error that says how long it waited.
 */
@Injectable()
export class ProviderOutages implements OnModuleDestroy {
  private readonly logger = new Logger('ProviderOutages');
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly breaker: ProviderBreaker,
    private readonly sessions: SessionStore,
    private readonly jobs: JobQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    breaker.onClose((provider) => this.wakeWaiting(provider));
  }

  onModuleDestroy(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }

  /**
   * After `provider` failed the job with `err`: either the job waits (it is moved to the delayed set, after
   * `showWaiting` shows it, and this throws BullMQ's DelayedError, which the handler must let through), or
   * this returns the error to apply the usual failure policy to: `err` itself, or a final one past the
   * tolerance.
   */
  async waitOrFail(
    job: Job<SessionJob>,
    err: unknown,
    provider: string,
    showWaiting?: (message: string) => Promise<unknown>,
  ): Promise<unknown> {
    if (!this.breaker.guards(provider)) return err;
    const { toleranceMs, probeIntervalMs } = this.config.providerOutage;
    const decision = decideOnFailure({
      err,
      state: await this.breaker.state(provider),
      track: job.data.outage,
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      label: PROVIDER_LABELS[provider],
      toleranceMs,
      probeIntervalMs,
    });
    if (decision.kind === 'wait') {
      await Promise.all([
        showWaiting?.(`${PROVIDER_LABELS[provider]} is unavailable; waiting for it to recover`),
        this.sessions.toggleWarning(job.data.sessionId, this.warning(provider), true),
        job.updateData({ ...job.data, outage: decision.track }),
      ]);
      // The token proves this worker still holds the job; the move keeps attemptsMade as it is.
      await job.moveToDelayed(Date.now() + decision.delayMs, job.token);
      throw new DelayedError();
    }
    await this.recovered(job, provider);
    if (decision.kind === 'give-up') return decision.error;
    // Remembered for the next attempt, which compares it with when the provider last answered.
    if (JSON.stringify(decision.track) !== JSON.stringify(job.data.outage))
      await job.updateData({ ...job.data, outage: decision.track });
    return err;
  }

  /**
   * The provider answered a job that had been waiting for it: the session's warning is withdrawn. Best
   * effort: a Redis hiccup here must not turn a paid-for render into a failure.
   */
  async recovered(job: Job<SessionJob>, provider: string): Promise<void> {
    if (!this.breaker.guards(provider) || job.data.outage?.waitingSince === undefined) return;
    await this.sessions
      .toggleWarning(job.data.sessionId, this.warning(provider), false)
      .catch((err: unknown) => this.logger.warn(`Could not withdraw the outage warning: ${String(err)}`));
  }

  /**
   * The provider answered this process's probe: the jobs waiting for it run now rather than at their next
   * wake, up to one probe interval later. Twice: jobs that woke for the same probe slot and lost it go back
   * to the delayed set while the probe runs, within the wake jitter, and a quick probe beats some of them.
   */
  private wakeWaiting(provider: GuardedProvider): void {
    // Called inside the probing job: its session and job ids must not label these lines.
    withoutLogContext(() => this.scheduleResume(provider));
  }

  private scheduleResume(provider: GuardedProvider): void {
    void this.resume(provider);
    const again = setTimeout(
      () => {
        this.timers.delete(again);
        void this.resume(provider);
      },
      maxJitterMs(this.config.providerOutage.probeIntervalMs) + 500,
    ).unref();
    this.timers.add(again);
  }

  private async resume(provider: GuardedProvider): Promise<void> {
    try {
      const woken = await this.jobs.promoteDelayed(
        JOBS_OF[provider],
        (data) => data.outage?.waitingSince !== undefined,
      );
      if (woken > 0) this.logger.log(`${woken} job(s) waiting for ${PROVIDER_LABELS[provider]} resumed`);
    } catch (err) {
      // They still wake on time.
      this.logger.warn(`Could not resume the jobs waiting for ${PROVIDER_LABELS[provider]}: ${String(err)}`);
    }
  }

  private warning(provider: GuardedProvider): string {
    const tolerance = shownDuration(this.config.providerOutage.toleranceMs);
    return `${PROVIDER_LABELS[provider]} is unavailable; the session is waiting for it and retrying (for up to ${tolerance})`;
  }
}
