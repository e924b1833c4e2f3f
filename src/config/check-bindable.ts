import { createServer } from 'node:net';
import { ConfigError } from './app-config';

const REASONS: Record<string, string> = {
  ENOTFOUND: 'is not a known host name',
  EAI_AGAIN: 'could not be resolved',
  EADDRNOTAVAIL: 'is not an address of this machine',
  EACCES: 'needs privileges this process does not have',
};

/**
 * Binds HOST:PORT once and lets go, so a host that does not resolve or is not local, or a port in use,
 * stops start-up with one line naming the variable instead of failing after Nest says it started.
 */
export function checkBindable(host: string, port: number, portVariable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError(portVariable, `${port} is already in use on ${host}`));
      } else if (err.code === 'EACCES' && port < 1024) {
        reject(new ConfigError(portVariable, `${port} ${REASONS.EACCES}`));
      } else {
        const reason = (err.code && REASONS[err.code]) ?? `cannot be bound (${err.code ?? err.message})`;
        reject(new ConfigError('HOST', `"${host}" ${reason}`));
      }
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
