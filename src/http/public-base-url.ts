import type { Request } from 'express';
import { AppConfig } from '../config/app-config';

const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The origin clients reach this service at, for absolute image URLs: PUBLIC_BASE_URL when set (behind a
 * proxy), else the request's own Host. A Host header that is not a plain host[:port] is not echoed.
 */
export function publicBaseUrl(req: Request, config: AppConfig): string {
  if (config.publicBaseUrl) return config.publicBaseUrl;
  const host = req.get('host');
  if (!host || !SAFE_HOST.test(host)) return '';
  const protocol = req.protocol === 'https' ? 'https' : 'http';
  return `${protocol}://${host}`;
}
