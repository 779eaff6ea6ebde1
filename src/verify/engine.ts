import type { VerifyContext } from './context';
import { describeCheckError } from './errors';
import type { CheckOutcome, CheckResult, CheckSpec } from './types';
import { skip, unverified } from './types';

export interface EngineOptions {
  /**
   * Checks in flight at once. Many only wait on a lookup another check already started, so this
   * is generous; AwsSession separately caps the AWS requests in flight (10), which is what
   * keeps a verify from tripping throttling.
   */
  concurrency?: number;
  /** A check that takes longer is reported as not finished, never as OK. */
  timeoutMs?: number;
  /** Time left (a Lambda's); no check starts when less than `reserveMs` remains. */
  remainingMs?: () => number;
  reserveMs?: number;
  /** Called as each check finishes, so results can be streamed. */
  onResult?: (result: CheckResult) => void | Promise<void>;
  /** Called with the number of checks planned so far, which grows as finished checks discover more. */
  onPlanned?: (planned: number) => void;
  now?: () => number;
}

/**
 * Runs a tree of checks concurrently with bounded concurrency and per-check timeouts, in
 * dependency order: a check starts once everything it needs has finished, and checks discovered
 * by a finished check (`then`) join the queue. A check whose prerequisite FAILED is SKIPped.
 */
export async function runChecks(roots: CheckSpec[], ctx: VerifyContext, options: EngineOptions = {}): Promise<CheckResult[]> {
  const concurrency = options.concurrency ?? 16;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const reserveMs = options.reserveMs ?? 5_000;
  const now = options.now ?? Date.now;
  const remaining = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);

  const results = new Map<string, CheckResult>();
  const queue: Array<{ spec: CheckSpec; order: number; parent?: string }> = [];
  let planned = 0;
  let running = 0;
  const enqueue = (specs: CheckSpec[], parent?: string) => {
    for (const spec of specs) {
      if (results.has(spec.id) || queue.some((q) => q.spec.id === spec.id)) throw new Error(`duplicate check id ${spec.id}`);
      queue.push({ spec, order: planned++, ...(parent ? { parent } : {}) });
    }
    if (specs.length) options.onPlanned?.(planned);
  };
  enqueue(roots);

  return new Promise<CheckResult[]>((resolve, reject) => {
    const finish = async (entry: { spec: CheckSpec; order: number }, outcome: CheckOutcome, started: number) => {
      const { spec } = entry;
      const result: CheckResult = {
        ...outcome,
        id: spec.id,
        family: spec.family,
        title: spec.title,
        group: spec.group,
        durationMs: now() - started,
        order: entry.order,
      };
      results.set(spec.id, result);
      await options.onResult?.(result);
      if (spec.then && outcome.status !== 'FAIL' && outcome.status !== 'SKIP' && !outcome.unverified) {
        enqueue(await spec.then(ctx, outcome), spec.id);
      }
    };

    const pump = () => {
      for (let i = 0; i < queue.length && running < concurrency; ) {
        const entry = queue[i]!;
        const needs = [...(entry.spec.needs ?? []), ...(entry.parent ? [entry.parent] : [])];
        const pending = needs.filter((id) => !results.has(id));
        if (pending.some((id) => !queue.some((q) => q.spec.id === id) && !inFlight.has(id))) {
          throw new Error(`check ${entry.spec.id} needs unknown check ${pending.join(', ')}`);
        }
        if (pending.length) {
          i++;
          continue;
        }
        queue.splice(i, 1);
        const blocked = needs.map((id) => results.get(id)!).find((r) => r.status === 'FAIL' || r.status === 'SKIP');
        if (blocked) {
          settle(entry, Promise.resolve(skip(`not checked: “${blocked.title}” ${blocked.status === 'FAIL' ? 'failed' : 'was skipped'}`)));
          continue;
        }
        if (remaining() < reserveMs) {
          settle(entry, Promise.resolve(unverified('not checked: the run ran out of time before this check could start')));
          continue;
        }
        settle(entry, withTimeout(entry.spec, ctx, timeoutMs));
      }
      if (queue.length === 0 && running === 0) resolve([...results.values()].sort((a, b) => a.order - b.order));
    };

    const inFlight = new Set<string>();
    const settle = (entry: { spec: CheckSpec; order: number }, outcome: Promise<CheckOutcome>) => {
      running++;
      inFlight.add(entry.spec.id);
      const started = now();
      outcome
        .then((o) => finish(entry, o, started))
        .then(() => {
          running--;
          inFlight.delete(entry.spec.id);
          pump();
        })
        .catch(reject);
    };

    try {
      pump();
    } catch (error) {
      reject(error);
    }
  });
}

async function withTimeout(spec: CheckSpec, ctx: VerifyContext, timeoutMs: number): Promise<CheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => resolve(unverified(`not checked: no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  });
  try {
    return await Promise.race([spec.run(ctx).catch((error: unknown) => describeCheckError(error)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
