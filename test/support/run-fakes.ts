/**
 * Starts the fake OpenRouter and the fake Runware on fixed local ports and prints the environment that
 * runs the service in live mode against them: `npm run fakes`, then paste the lines before `npm start`.
 *
 * Environment: FAKE_OPENROUTER_PORT (8101), FAKE_RUNWARE_PORT (8102), FAKE_IMAGE_PORT (8103),
 * FAKE_PLANNER_LATENCY_MS (0), FAKE_IMAGE_LATENCY_MS (0), FAKE_IMAGE_BYTES (64×64 image when unset),
 * FAKE_OPENROUTER_KEY, FAKE_RUNWARE_KEY, and fault rates FAKE_PLANNER_ERROR_RATE, FAKE_PLANNER_HANG_RATE,
 * FAKE_IMAGE_ERROR_RATE, FAKE_IMAGE_DROP_RATE, FAKE_IMAGE_DISCONNECT_RATE (0..1, default 0).
 */
import { FakeOpenRouter, startFakeOpenRouter } from './fake-openrouter';
import { FakeRunware, startFakeRunware } from './fake-runware';
import { liveProviderVars } from './live-vars';

interface RunningFakes {
  openrouter: FakeOpenRouter;
  runware: FakeRunware;
  /** The service environment for live mode against these fakes. */
  env: Record<string, string>;
  close(): Promise<void>;
}

type Env = Record<string, string | undefined>;

async function startFakes(env: Env = process.env): Promise<RunningFakes> {
  const openrouterKey = env.FAKE_OPENROUTER_KEY ?? 'sk-or-v1-fake-local-key';
  const runwareKey = env.FAKE_RUNWARE_KEY ?? 'fake-runware-local-key';
  const openrouter = await startFakeOpenRouter({
    port: number(env, 'FAKE_OPENROUTER_PORT', 8101),
    apiKey: openrouterKey,
    behaviour: {
      latencyMs: number(env, 'FAKE_PLANNER_LATENCY_MS', 0),
      faults: {
        errorRate: number(env, 'FAKE_PLANNER_ERROR_RATE', 0),
        hangRate: number(env, 'FAKE_PLANNER_HANG_RATE', 0),
      },
    },
  });
  const runware = await startFakeRunware({
    port: number(env, 'FAKE_RUNWARE_PORT', 8102),
    imagePort: number(env, 'FAKE_IMAGE_PORT', 8103),
    apiKey: runwareKey,
    imageBytes: env.FAKE_IMAGE_BYTES ? number(env, 'FAKE_IMAGE_BYTES', 0) : undefined,
    behaviour: {
      latencyMs: number(env, 'FAKE_IMAGE_LATENCY_MS', 0),
      faults: {
        errorRate: number(env, 'FAKE_IMAGE_ERROR_RATE', 0),
        dropRate: number(env, 'FAKE_IMAGE_DROP_RATE', 0),
        disconnectRate: number(env, 'FAKE_IMAGE_DISCONNECT_RATE', 0),
      },
    },
  });
  return {
    openrouter,
    runware,
    env: liveProviderVars(openrouter, runware, { openrouter: openrouterKey, runware: runwareKey }),
    close: async () => {
      await Promise.all([openrouter.close(), runware.close()]);
    },
  };
}

function number(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

async function main(): Promise<void> {
  const fakes = await startFakes();
  console.log('Fake OpenRouter and Runware are running. Run the service with:\n');
  for (const [name, value] of Object.entries(fakes.env)) console.log(`export ${name}=${value}`);
  console.log('\nPress Ctrl+C to stop.');
  const stop = () => {
    fakes.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
