import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';

export class DownloadRequestDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'session_id must be a UUID' })
  session_id!: string;
}
