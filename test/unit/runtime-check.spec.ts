import { unsupportedRuntime } from '../../src/config/runtime-check';

describe('unsupportedRuntime', () => {
  it.each(['20.15.0', '20.20.2', '22.2.0', '24.0.0', '24.21.0', '26.1.0'])('accepts Node %s', (version) => {
    expect(unsupportedRuntime(version)).toBeNull();
  });

  it.each(['20.14.9', '20.0.0', '18.20.4', '16.0.0'])(
    'refuses Node %s in one line naming what is supported',
    (version) => {
      expect(unsupportedRuntime(version)).toBe(
        `Node.js ${version} is not supported: use Node.js 24 (recommended), 22, or 20 from 20.15.0`,
      );
    },
  );
});
