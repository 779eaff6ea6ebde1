/** The bench's tracer of dependent AWS calls (bench/support/critical-path.ts) on a made-up client. */
import { describe, expect, it } from 'vitest';
import { CriticalPathTracer } from '../bench/support/critical-path';

class GetThing {
  constructor(readonly id: string) {}
}
class ListThings {}

/** A client whose calls take a few ms, like any SDK client's `send`. */
const fakeClient = () => ({ send: (command: object) => new Promise((resolve) => setTimeout(() => resolve(command), 2)) });

async function traced(work: (client: ReturnType<typeof fakeClient>) => Promise<unknown>) {
  const tracer = new CriticalPathTracer().start();
  try {
    await work(tracer.trace(fakeClient()));
  } finally {
    tracer.stop();
  }
  return tracer;
}

describe('CriticalPathTracer', () => {
  it('counts calls that wait on each other, not calls made together', async () => {
    const tracer = await traced(async (client) => {
      await client.send(new ListThings());
      await Promise.all([client.send(new GetThing('a')), client.send(new GetThing('b')), client.send(new GetThing('c'))]);
    });
    expect(tracer.calls).toHaveLength(4);
    expect(tracer.longestChain().map((c) => c.name)).toEqual(['ListThings', 'GetThing']);
  });

  it('follows a shared lookup into whoever waits on it, and a prerequisite into what runs after it', async () => {
    const tracer = await traced(async (client) => {
      const memo = (async () => {
        await client.send(new ListThings());
        return client.send(new GetThing('shared'));
      })();
      const first = (async () => {
        await memo;
        await client.send(new GetThing('after-shared'));
      })();
      const unrelated = client.send(new GetThing('alone'));
      await Promise.all([first, unrelated]);
      await client.send(new GetThing('last'));
    });
    // In the order made: ListThings, alone, shared, after-shared, last.
    expect(tracer.calls.map((c) => c.depth)).toEqual([1, 1, 2, 3, 4]);
    expect(tracer.longestChain().map((c) => c.name)).toEqual(['ListThings', 'GetThing', 'GetThing', 'GetThing']);
  });
});
