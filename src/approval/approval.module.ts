import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { ApprovalController } from './approval.controller';
import { ApprovalService } from './approval.service';

/** POST /approve: records the approval and queues the download. */
@Module({
  imports: [SessionsModule, QueueModule],
  controllers: [ApprovalController],
  providers: [ApprovalService],
})
export class ApprovalModule {}
