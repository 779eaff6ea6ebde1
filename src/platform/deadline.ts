import { AsyncLocalStorage } from 'node:async_hooks';

/** What the ack path depends on, named for the person who has to be told it failed. */
export type Dependency = 'secrets' | 'allowlist' | 'catalog' | 'state' | 'audit' | 'worker' | 'workflow' | 'slack';

/** A dependency failed or did not answer within the request's time budget. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    /** True when it did not answer in time (the call may still land); false when it failed. */
    readonly timedOut: boolean,
    options?: { cause?: unknown },
    /** False when the budget was spent before the call was made: then it certainly did not happen. */
    readonly attempted = true,
  ) {
    super(`${dependency} ${timedOut ? 'did not answer in time' : 'failed'}`, options);
    this.name = 'DependencyUnavailableError';
  }
}

const budgets = new AsyncLocalStorage<{ endsAt: number }>();

/**
 * Runs `work` with a deadline `budgetMs` from now: every `within()` call inside it (however deep)
 * gives up when the deadline passes, so the caller can still answer in time.
 */
export function withDeadline<T>(budgetMs: number, work: () => Promise<T>): Promise<T> {
  return budgets.run({ endsAt: Date.now() + budgetMs }, work);
}

/** Milliseconds left before the current deadline (Infinity outside one). */
function timeLeft(): number {
  const budget = budgets.getStore();
  return budget ? budget.endsAt - Date.now() : Infinity;
}

/**
 * Calls a dependency within the current deadline. Any failure becomes a
 * DependencyUnavailableError naming it; so does running out of time (the call is abandoned, not
 * cancelled: whatever it does later is not waited for).
 */
export async function within<T>(dependency: Dependency, call: () => Promise<T>): Promise<T> {
  const left = timeLeft();
  if (left <= 0) throw new DependencyUnavailableError(dependency, true, {}, false);
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = call();
    if (left === Infinity) return await work;
    work.catch(() => undefined); // abandoned on timeout: its late failure is nobody's business
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DependencyUnavailableError(dependency, true)), left);
      }),
    ]);
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    throw new DependencyUnavailableError(dependency, false, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
