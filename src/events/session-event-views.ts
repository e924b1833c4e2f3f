import { ApiProperty } from '@nestjs/swagger';
import { DownloadStatus, SESSION_PHASES, SessionPhase, SessionStatus } from '../domain/session.model';
import { CastMemberView, SceneView } from '../sessions/session-view';

/** `data` of a `status` event: sent whenever the session's status, phase or error changes. */
export class StatusEventView {
  @ApiProperty({ enum: ['processing', 'completed', 'failed'], enumName: 'SessionStatus' })
  status!: SessionStatus;
  @ApiProperty({ enum: SESSION_PHASES, enumName: 'SessionPhase' })
  phase!: SessionPhase;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

/** `data` of a `download` event: sent on approval and as each approved image arrives. */
export class DownloadEventView {
  @ApiProperty({ enum: ['not_started', 'started', 'completed', 'failed'], enumName: 'DownloadStatus' })
  download_status!: DownloadStatus;
  @ApiProperty({
    type: [SceneView],
    description: 'The approved scenes, each with its `download` (null while it is running)',
  })
  scenes!: SceneView[];
}

/** `data` of the last event of a stream, `expired`: the session has expired, and the stream ends. */
export class ExpiredEventView {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
}

/** `data` of a `cast` event: the cast sheet, sent whenever a portrait changes (drawn, failed, redrawn). */
export class CastEventView {
  @ApiProperty({ type: [CastMemberView] }) cast!: CastMemberView[];
}
