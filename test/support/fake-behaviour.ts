/**
 * How a fake answers, shared by the fake providers: a standing behaviour changed with `set`, one-shot
 * behaviours for the next requests (`enqueue`), and `reset` back to the behaviour it started with.
 */
export interface BehaviourControl<B> {
  /** The behaviour for the next request: the next queued one merged over the standing one. */
  next(): B;
  /** The standing behaviour, without taking a queued one. */
  standing(): B;
  set(behaviour: Partial<B>): void;
  enqueue(...behaviours: Partial<B>[]): void;
  reset(): void;
}

export function behaviourControl<B extends object>(initial: B): BehaviourControl<B> {
  let standing = { ...initial };
  const queue: Partial<B>[] = [];
  return {
    next: () => ({ ...standing, ...queue.shift() }),
    standing: () => ({ ...standing }),
    set: (behaviour) => {
      standing = { ...standing, ...behaviour };
    },
    enqueue: (...behaviours) => {
      queue.push(...behaviours);
    },
    reset: () => {
      standing = { ...initial };
      queue.length = 0;
    },
  };
}
