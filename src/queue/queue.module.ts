import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RedisService, waitUntilReady } from '../redis/redis.service';
import { QueueName } from '../domain/jobs';
import { JobQueue } from './job-queue.service';

function bullPrefix(config: AppConfig): string {
  return `${config.redisPrefix}:bull`;
}

/**
 * The queues, for every role. Producers share one fail-fast connection, so a Redis outage turns a request
 * into a 503 instead of a hang; processors get a patient connection of their own (processor-provider.ts).
 */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG, RedisService],
      useFactory: async (config: AppConfig, redis: RedisService) => {
        const connection = redis.forBullQueue();
        // Fail-fast connections refuse commands until connected, so start-up waits for it once.
        await waitUntilReady(connection, 10_000);
        return { connection, prefix: bullPrefix(config) };
      },
    }),
    BullModule.registerQueue(...Object.values(QueueName).map((name) => ({ name }))),
  ],
  providers: [JobQueue],
  exports: [JobQueue, BullModule],
})
export class QueueModule {}
