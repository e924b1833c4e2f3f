import { Processor } from '@nestjs/bullmq';
import { Provider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Job } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { JobProcessor, QueueName } from '../domain/jobs';
import { withJobContext } from '../common/log-context';
import { providerBackoff } from './retry-backoff';

const CONCURRENCY: Record<QueueName, (config: AppConfig) => number> = {
  [QueueName.Generation]: (config) => config.workerConcurrency,
  [QueueName.Download]: (config) => Math.max(1, Math.ceil(config.workerConcurrency / 4)),
  [QueueName.Housekeeping]: () => 1,
  // Deliveries mostly wait on receivers: a few at a time per worker, so one slow receiver delays little.
  [QueueName.Webhooks]: () => 10,
};

/** A `@Processor` class: a WorkerHost, whose `process` BullMQ calls, that declares the jobs it handles. */
type HandlesJobs = JobProcessor & { process(job: Job, token?: string): Promise<unknown> };

/**
 * Registers a `@Processor` class with worker options from configuration. @nestjs/bullmq reads worker
 * options from the decorator, which is static, while ours (concurrency, locks, and a patient connection of
 * this application's RedisService) are known only once the application is built. So each application
 * instantiates a subclass decorated, through the library's own decorator, with its options.
 */
export function processorProvider(processor: Type<HandlesJobs>, queue: QueueName): Provider {
  return {
    provide: processor,
    inject: [ModuleRef, APP_CONFIG, RedisService],
    useFactory: (moduleRef: ModuleRef, config: AppConfig, redis: RedisService) => {
      @Processor(queue, {
        // Waits out Redis outages instead of failing jobs (the queues' own connection fails fast).
        connection: redis.forBullWorker(),
        concurrency: CONCURRENCY[queue](config),
        // A killed worker's jobs are picked up by another after its lock lapses.
        lockDuration: config.jobLockMs,
        stalledInterval: config.stalledCheckMs,
        maxStalledCount: 2,
        settings: { backoffStrategy: providerBackoff },
        // Started by WorkerLifecycle once every job is known to have its handler.
        autorun: false,
      })
      class ConfiguredProcessor extends processor {
        // Here rather than in each processor: every job's log lines carry its session and job ids.
        override process(job: Job, token?: string): Promise<unknown> {
          return withJobContext(job, () => super.process(job, token));
        }
      }
      return moduleRef.create(ConfiguredProcessor);
    },
  };
}
