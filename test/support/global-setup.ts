import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** The multi-process tests run the compiled service, so make sure dist/ is current before any test. */
export default function globalSetup(): void {
  const result = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', '..', 'scripts', 'ensure-build.js')],
    {
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) throw new Error('Building the service failed');
}
