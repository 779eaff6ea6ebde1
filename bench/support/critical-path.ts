/**
 * The longest chain of AWS calls in a run where each call needs the answer of the one before:
 * measured, not assumed, by following the run's promises (async_hooks). Every async resource
 * carries the depth of the AWS calls its work has waited on: it inherits the depth of what
 * created it and of the promise it continues (an `await`), and a promise resolved by work of a
 * greater depth takes that depth. An AWS call started at depth d ends at d + 1, whatever the SDK
 * does inside it. So a check that `needs` another, or is planned by its `then`, starts at the
 * depth its prerequisite ended at; lookups shared through `ctx.once` pass their depth to every
 * check that waits on them; calls made together (`Promise.all`) share one depth.
 *
 * Honest only for a run with no queueing: a request let through a concurrency limit when another
 * request finishes would look as if it depended on that one. Run the engine and the AWS session
 * unbounded while tracing. A `Promise.all` takes the depth of its element that settles last, which
 * in a run with equal latencies is its deepest.
 */
import { createHook, executionAsyncId } from 'node:async_hooks';

interface Depth {
  depth: number;
  /** The call that brought the resource to this depth (its index in `calls`). */
  via?: number;
}

export interface TracedCall {
  name: string;
  /** 1 for a call that waited on no other call. */
  depth: number;
  /** The call it waited on last, if any. */
  after?: number;
}

const ZERO: Depth = { depth: 0 };
const deeper = (a: Depth, b: Depth) => (b.depth > a.depth ? b : a);

export class CriticalPathTracer {
  readonly calls: TracedCall[] = [];
  private readonly depths = new Map<number, Depth>();
  private readonly triggers = new Map<number, number>();
  private readonly promiseIds = new WeakMap<object, number>();
  private readonly pinned = new Set<number>();
  private readonly hook = createHook({
    init: (id, type, trigger, resource) => {
      this.triggers.set(id, trigger);
      this.depths.set(id, deeper(this.depthOf(trigger), this.depthOf(executionAsyncId())));
      if (type === 'PROMISE') this.promiseIds.set(resource as object, id);
    },
    // A continuation runs once what it awaited has settled: it is at least as deep.
    before: (id) => this.raise(id, this.depthOf(this.triggers.get(id) ?? 0)),
    // A promise settled by deeper work (an async function's result, a memoized lookup) is that deep.
    promiseResolve: (id) => {
      if (!this.pinned.has(id)) this.raise(id, this.depthOf(executionAsyncId()));
    },
    destroy: (id) => {
      this.depths.delete(id);
      this.triggers.delete(id);
      this.pinned.delete(id);
    },
  });

  start(): this {
    this.hook.enable();
    return this;
  }

  stop(): void {
    this.hook.disable();
  }

  /** Traces an SDK client's calls: each one ends one deeper than where it started. */
  trace<C extends object>(client: C): C {
    const target = client as unknown as { send: (...args: unknown[]) => Promise<unknown> };
    const send = target.send.bind(target);
    target.send = (...args: unknown[]) => {
      const start = this.depthOf(executionAsyncId());
      const index =
        this.calls.push({
          name: (args[0] as object).constructor.name.replace(/Command$/, ''),
          depth: start.depth + 1,
          ...(start.via !== undefined ? { after: start.via } : {}),
        }) - 1;
      const inner = send(...args);
      // The caller sees this promise: its depth is fixed here, not raised by whatever the SDK's own work settles it from.
      const outer = new Promise((resolve, reject) => void inner.then(resolve, reject));
      const id = this.promiseIds.get(outer);
      if (id === undefined) throw new Error('async_hooks did not report the promise: is the tracer started?');
      this.pinned.add(id);
      this.depths.set(id, { depth: start.depth + 1, via: index });
      return outer;
    };
    return client;
  }

  /** The deepest call and the calls it waited on, first to last. */
  longestChain(): TracedCall[] {
    let last = this.calls.reduce<number | undefined>((best, call, i) => (best === undefined || call.depth > this.calls[best]!.depth ? i : best), undefined);
    const chain: TracedCall[] = [];
    while (last !== undefined) {
      chain.unshift(this.calls[last]!);
      last = this.calls[last]!.after;
    }
    return chain;
  }

  private depthOf(id: number): Depth {
    return this.depths.get(id) ?? ZERO;
  }

  private raise(id: number, to: Depth): void {
    const now = this.depthOf(id);
    if (to.depth > now.depth) this.depths.set(id, to);
  }
}
