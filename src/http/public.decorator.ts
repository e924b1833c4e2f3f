import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'isPublic';

/** Marks routes that never require an API key (health probes). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
