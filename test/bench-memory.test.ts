/** The bench's memory sampler (bench/support/memory.ts): what it keeps at the RSS peak, and the live heap only when asked. */
import { describe, expect, it } from 'vitest';
import { sampleMemory } from '../bench/support/memory';

const MIB = 1024 * 1024;

describe('sampleMemory', () => {
  it('keeps the highest RSS with what load() said at it, and no live heap unless asked', () => {
    let load = 0;
    const memory = sampleMemory({ everyMs: 1_000_000, load: () => load });
    // 64 MiB written, so its pages are resident when stop() takes its last sample.
    const ballast = Buffer.alloc(64 * MIB, 1);
    load = 7;
    const peak = memory.stop();
    expect(ballast.length).toBe(64 * MIB);
    expect(peak.samples).toBe(1);
    expect(peak.rss).toBeGreaterThan(peak.before);
    expect(peak.load).toBe(7);
    expect(peak.mostLoad).toBe(7);
    expect(peak.liveHeap).toBeUndefined();
  });

  it('with liveHeapEveryMs, measures the heap after a full collection, before and at its highest', () => {
    const peak = sampleMemory({ everyMs: 1_000_000, liveHeapEveryMs: 1_000_000 }).stop();
    expect(peak.liveHeap!.before).toBeGreaterThan(0);
    expect(peak.liveHeap!.peak).toBe(peak.liveHeap!.before);
  });
});
