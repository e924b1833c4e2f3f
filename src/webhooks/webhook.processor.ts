import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { JobName, JobOf, JobProcessor, QueueName } from '../domain/jobs';
import { attemptOf, unknownJob } from '../queue/failure-policy';
import { SessionStore } from '../sessions/session.store';
import { CallbackUrlPolicy, CallbackUrlRefused } from './callback-url-policy';
import { WebhookSender } from './webhook-sender';

/**
 * Delivers webhook events, one job per event (src/sessions/webhook-events.ts). A 2xx ends the job; a 4xx
 * other than 408 and 429 says the receiver will not take the event, so it is not retried; anything else
 * (5xx, 408, 429, a 3xx, no answer) is retried with backoff up to WEBHOOK_ATTEMPTS. Each attempt is
 * recorded on the session (GET /status `webhook`).
 */
@Processor(QueueName.Webhooks)
export class WebhookProcessor extends WorkerHost implements JobProcessor {
  readonly queue = QueueName.Webhooks;
  readonly handles = [JobName.DeliverWebhook];
  private readonly logger = new Logger('Webhooks');
  private readonly policy: CallbackUrlPolicy;
  private readonly sender: WebhookSender | undefined;

  constructor(
    private readonly sessions: SessionStore,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super();
    this.policy = new CallbackUrlPolicy(config.webhooks?.allowedHosts ?? []);
    this.sender = config.webhooks
      ? new WebhookSender(config.webhooks.secret, config.webhooks.timeoutMs)
      : undefined;
  }

  async process(job: JobOf<JobName.DeliverWebhook>): Promise<void> {
    if (job.name !== JobName.DeliverWebhook) return unknownJob(job);
    const { sessionId, webhookId, type, url, body } = job.data;
    if (!this.sender)
      throw new UnrecoverableError('Webhooks are not configured (WEBHOOK_SECRET) on this worker');
    const attempt = attemptOf(job);
    let target;
    try {
      // Checked again at delivery: the allowlist may have changed, and a wildcard host is resolved anew.
      target = await this.policy.target(url);
    } catch (err) {
      await this.record(sessionId, type, null, attempt, false);
      if (err instanceof CallbackUrlRefused) throw new UnrecoverableError(err.message);
      throw err;
    }
    const outcome = await this.sender.send(target, webhookId, body);
    const code = outcome.statusCode;
    const delivered = code !== null && code >= 200 && code < 300;
    await this.record(sessionId, type, code, attempt, delivered);
    if (delivered) return;
    const reason = code === null ? outcome.problem : `HTTP ${code}`;
    const message = `Webhook ${type} of session ${sessionId}, attempt ${attempt}: ${reason}`;
    if (code !== null && code >= 400 && code < 500 && code !== 408 && code !== 429) {
      this.logger.warn(`${message}; not retried`);
      throw new UnrecoverableError(message);
    }
    throw new Error(message);
  }

  /** The session's delivery record, as the last attempt left it; the URL is the session's own. */
  private async record(
    sessionId: string,
    event: string,
    statusCode: number | null,
    attempts: number,
    delivered: boolean,
  ): Promise<void> {
    const session = await this.sessions.get(sessionId);
    if (!session?.webhook) return;
    await this.sessions.update(sessionId, {
      webhook: {
        url: session.webhook.url,
        last_event: event,
        last_status_code: statusCode,
        attempts,
        delivered_at: delivered ? new Date().toISOString() : null,
      },
    });
  }
}
