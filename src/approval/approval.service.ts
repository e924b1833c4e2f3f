import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Tenant } from '../auth/tenant';
import { JobQueue } from '../queue/job-queue.service';
import { approvalProblem } from '../sessions/session-lifecycle';
import { SessionStore } from '../sessions/session.store';
import { ApproveRequestDto, ApproveResponseDto } from './approve-request.dto';

@Injectable()
export class ApprovalService {
  constructor(
    private readonly sessions: SessionStore,
    private readonly queue: JobQueue,
  ) {}

  async approve(
    { session_id, approved_scenes }: ApproveRequestDto,
    tenant: Tenant,
  ): Promise<ApproveResponseDto> {
    const sessionId = session_id.toLowerCase();
    const session = await this.sessions.getFor(sessionId, tenant);
    if (!session) throw new NotFoundException('Session not found or expired');
    const problem = approvalProblem(session, approved_scenes);
    if (problem?.kind === 'bad_indices') throw new BadRequestException(problem.message);
    if (problem) throw new ConflictException(problem.message);

    const indices = [...approved_scenes].sort((a, b) => a - b);
    // The check above can race with another approval; the store's check-and-set settles it.
    const result = await this.sessions.approve(sessionId, indices);
    if (result === 'missing') throw new NotFoundException('Session not found or expired');
    if (result === 'not_completed') throw new ConflictException('Session is not completed');
    if (result === 'already_approved')
      throw new ConflictException('Scenes of this session were already approved');
    try {
      await this.queue.downloadImages(sessionId);
    } catch (err) {
      // Undo the approval, so the client can simply approve again once the queue is reachable.
      await this.sessions
        .update(sessionId, { download_status: 'not_started', approved: [] })
        .catch(() => undefined);
      throw err;
    }
    return { message: 'Images approved and downloading', download_status: 'started' };
  }
}
