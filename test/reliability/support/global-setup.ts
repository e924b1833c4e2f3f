import { rmSync } from 'node:fs';
import buildService from '../../support/global-setup';

export default function setup(): void {
  process.env.RELIABILITY_RUN_ID = String(process.pid);
  // Imported after the id is set, so every scenario writes to this run's file.
  const { TALLY_FILE } = require('./tally') as typeof import('./tally');
  rmSync(TALLY_FILE, { force: true });
  buildService();
}
