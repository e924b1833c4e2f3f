import { Module } from '@nestjs/common';
import { QueueModule } from '../queue/queue.module';
import { SessionsModule } from '../sessions/sessions.module';
import { CastController } from './cast.controller';
import { CastService } from './cast.service';

/** The cast after casting: POST /sessions/{id}/cast/{name}/regenerate draws a portrait again. */
@Module({
  imports: [SessionsModule, QueueModule],
  controllers: [CastController],
  providers: [CastService],
})
export class CastModule {}
