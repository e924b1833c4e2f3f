import { SESSION_PHASES } from '../domain/session.model';
import { ApiProperty } from '@nestjs/swagger';
import { MEDIA_TYPES } from '../domain/session.model';

const SET = ['configured', 'missing'];
const PRESENT = ['exists', 'missing'];

class DebugSession {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ enum: ['processing', 'completed', 'failed'] }) status!: string;
  @ApiProperty({ enum: SESSION_PHASES }) phase!: string;
  @ApiProperty({ enum: MEDIA_TYPES }) media_type!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) num_scenes!: number;
  @ApiProperty({ enum: ['not_started', 'started', 'completed', 'failed'] }) download_status!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) last_accessed!: string;
}

export class DebugSessionsView {
  @ApiProperty({ type: 'integer', minimum: 0 }) active_sessions!: number;
  @ApiProperty({ type: [DebugSession], description: 'At most 200 of them' }) sessions!: DebugSession[];
}

class DebugApiKeys {
  @ApiProperty({ enum: SET }) openrouter!: string;
  @ApiProperty({ enum: SET }) runware!: string;
  @ApiProperty({ enum: SET, description: 'Whether API_KEYS is set' }) api_auth!: string;
  @ApiProperty({ enum: SET, description: 'Whether WEBHOOK_SECRET is set' }) webhook_secret!: string;
}

class DebugProviders {
  @ApiProperty({ enum: ['auto', 'offline', 'live'] }) mode!: string;
  @ApiProperty({ enum: ['offline', 'openrouter'] }) scene_planner!: string;
  @ApiProperty({ enum: ['offline', 'runware'] }) image_renderer!: string;
}

class DebugOpenRouter {
  @ApiProperty({ description: 'With any credentials in it masked' }) base_url!: string;
  @ApiProperty() model!: string;
}

class DebugRunware {
  @ApiProperty({ description: 'With any credentials in it masked' }) url!: string;
}

/** Kept from the original service: whether the image storage (which /static serves) can be used. */
class DebugDirectories {
  @ApiProperty({ enum: PRESENT }) image_generation!: string;
  @ApiProperty({ enum: PRESENT }) static_files!: string;
}

class DebugStorage {
  @ApiProperty({ enum: ['local', 's3'] }) driver!: string;
  @ApiProperty({ description: 'The folder, or s3://bucket/prefix and its endpoint; never a credential' })
  location!: string;
  @ApiProperty({ enum: ['available', 'unavailable'] }) status!: string;
}

/** Configuration as an operator needs to see it: whether each secret is set, never its value. */
export class DebugConfigView {
  @ApiProperty({ type: DebugApiKeys }) api_keys!: DebugApiKeys;
  @ApiProperty({ type: DebugProviders }) providers!: DebugProviders;
  @ApiProperty({ type: DebugOpenRouter }) openrouter!: DebugOpenRouter;
  @ApiProperty({ type: DebugRunware }) runware!: DebugRunware;
  @ApiProperty({ type: DebugDirectories }) directories!: DebugDirectories;
  @ApiProperty({ type: DebugStorage }) storage!: DebugStorage;
  @ApiProperty({ enum: ['api', 'worker', 'all'] }) role!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) worker_concurrency!: number;
  @ApiProperty({ minimum: 0, description: 'Fractions allowed' }) session_ttl_hours!: number;
  @ApiProperty({ type: [String] }) image_download_allowed_hosts!: string[];
  @ApiProperty({ description: 'NODE_ENV, or development' }) environment!: string;
}
