import { CanActivate, ExecutionContext, UnsupportedMediaTypeException, UseGuards } from '@nestjs/common';
import type { Request } from 'express';

/** JSON endpoints answer 415 for other bodies, rather than validating an empty object. */
class JsonContentGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (!req.is('application/json')) {
      throw new UnsupportedMediaTypeException('Content-Type must be application/json');
    }
    return true;
  }
}

export const RequireJson = () => UseGuards(JsonContentGuard);
