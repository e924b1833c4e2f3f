import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { Module } from '@nestjs/common';
import { KeyRing } from '../auth/api-keys';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { QueueName } from '../domain/jobs';
import { QueueModule } from '../queue/queue.module';
import { queueDashboardAuth } from './queue-dashboard-auth';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board at /admin/queues (QUEUE_DASHBOARD=true, API role only): every queue's jobs, with retry and
 * removal, behind the API keys when API_KEYS is set.
 */
@Module({
  imports: [
    QueueModule,
    BullBoardModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        route: QUEUE_DASHBOARD_PATH,
        adapter: ExpressAdapter,
        middleware: queueDashboardAuth(new KeyRing(config.apiKeys), config.queueDashboardTenants),
        boardOptions: { uiConfig: { boardTitle: 'Story to Image queues' } },
      }),
    }),
    BullBoardModule.forFeature(...Object.values(QueueName).map((name) => ({ name, adapter: BullMQAdapter }))),
  ],
})
export class QueueDashboardModule {}
