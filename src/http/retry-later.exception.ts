import { HttpException } from '@nestjs/common';

/** An error answer that tells the client when to try again (Retry-After), set by ErrorEnvelopeFilter. */
export class RetryLaterException extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, status);
  }
}
