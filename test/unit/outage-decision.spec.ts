import { decideOnFailure, FailureFacts } from '../../src/providers/outage/outage-decision';
import { BreakerState, ProviderOutageError } from '../../src/providers/outage/provider-breaker';
import { ProviderError } from '../../src/providers/provider-error';

const NOW = 1_000_000;
const down = new ProviderError('Runware failed to render the image (timeoutProvider)', true);

const closed: BreakerState = {
  now: NOW,
  open: false,
  failures: 1,
  lastAnsweredAt: NOW - 60_000,
  nextProbeAt: null,
  lastError: down.message,
};
const open: BreakerState = { ...closed, open: true, failures: 5, nextProbeAt: NOW + 4_000 };

const facts = (overrides: Partial<FailureFacts>): FailureFacts => ({
  err: down,
  state: closed,
  track: undefined,
  lastAttempt: false,
  label: 'Runware',
  toleranceMs: 300_000,
  probeIntervalMs: 5_000,
  random: () => 0,
  ...overrides,
});

describe('decideOnFailure: whether a job waits for its provider', () => {
  it('never waits on an error retrying cannot fix, nor on a non-provider error', () => {
    const refused = new ProviderError('Runware rejected the API key', false);
    expect(decideOnFailure(facts({ err: refused, state: open })).kind).toBe('usual');
    expect(decideOnFailure(facts({ err: new Error('disk full'), state: open })).kind).toBe('usual');
  });

  it('uses an attempt as before while the breaker is closed, remembering when the failures began', () => {
    expect(decideOnFailure(facts({}))).toEqual({ kind: 'usual', track: { failingSince: NOW } });
  });

  it('keeps counting the tolerance from the first wait when the provider flaps between down and up', () => {
    const firstWait = NOW - 200_000;
    // Woken by a probe that closed the breaker, the job fails again while it is closed: an attempt is used,
    // but the time it already waited stays on its record.
    const flapped = decideOnFailure(facts({ track: { failingSince: firstWait, waitingSince: firstWait } }));
    expect(flapped).toEqual({ kind: 'usual', track: { failingSince: firstWait, waitingSince: firstWait } });
    if (flapped.kind !== 'usual') throw new Error('unreachable');
    // The breaker opens again past the tolerance counted from the first wait: the job gives up.
    const later = decideOnFailure(
      facts({ track: flapped.track, state: { ...open, now: firstWait + 300_001 } }),
    );
    expect(later.kind).toBe('give-up');
  });

  it('fails on the last attempt when the provider answered others since the job began failing', () => {
    const decision = decideOnFailure(
      facts({
        lastAttempt: true,
        track: { failingSince: NOW - 5_000 },
        state: { ...closed, lastAnsweredAt: NOW - 1_000 },
      }),
    );
    expect(decision).toEqual({ kind: 'usual', track: { failingSince: NOW - 5_000 } });
  });

  it('waits on the last attempt when the provider answered nobody since (too little traffic to open it)', () => {
    const decision = decideOnFailure(facts({ lastAttempt: true, track: { failingSince: NOW - 5_000 } }));
    expect(decision).toEqual({
      kind: 'wait',
      delayMs: 5_000,
      track: { failingSince: NOW - 5_000, waitingSince: NOW },
    });
  });

  it('waits for the next probe while the breaker is open, with jitter, whatever the attempt', () => {
    const decision = decideOnFailure(facts({ state: open, random: () => 0.5 }));
    expect(decision.kind).toBe('wait');
    expect(decision.kind === 'wait' && decision.delayMs).toBe(4_000 + 500);
  });

  it("honours the provider's Retry-After when it is later than the next probe", () => {
    const limited = new ProviderError('OpenRouter rate limit reached', true, 20_000);
    const decision = decideOnFailure(facts({ err: limited, state: open }));
    expect(decision.kind === 'wait' && decision.delayMs).toBe(20_000);
  });

  it('retries at once a request refused by a breaker that has closed since', () => {
    const refused = new ProviderOutageError('runware', 3_000);
    const decision = decideOnFailure(facts({ err: refused, state: { ...closed, failures: 0 } }));
    expect(decision.kind === 'wait' && decision.delayMs).toBe(50);
  });

  it('keeps counting the tolerance from when the job started waiting, and wakes at its end', () => {
    const track = { failingSince: NOW - 290_000, waitingSince: NOW - 298_000 };
    const decision = decideOnFailure(facts({ state: open, track }));
    expect(decision).toEqual({ kind: 'wait', delayMs: 2_000, track });
  });

  it('gives up past the tolerance with an error that says why, and that retrying cannot fix', () => {
    const track = { failingSince: NOW - 310_000, waitingSince: NOW - 300_000 };
    const decision = decideOnFailure(
      facts({ err: new ProviderOutageError('runware', 1_000), state: open, track }),
    );
    expect(decision.kind).toBe('give-up');
    if (decision.kind !== 'give-up') return;
    expect(decision.error.retryable).toBe(false);
    expect(decision.error.message).toBe(
      'Runware was unavailable for 300 s, longer than the outage tolerance; last error: Runware failed to render the image (timeoutProvider)',
    );
  });
});
