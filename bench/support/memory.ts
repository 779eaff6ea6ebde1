import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryPeak {
  /** RSS (bytes) when sampling started. */
  before: number;
  /** The highest RSS sampled, with the heap in use and `load()` at that sample. */
  rss: number;
  heapUsed: number;
  load: number;
  /** The highest `load()` at any sample. */
  mostLoad: number;
  samples: number;
  /** With `liveHeapEveryMs`: the heap in use right after a full collection, before and at its highest. */
  liveHeap?: { before: number; peak: number };
}

/** The `gc()` that --expose-gc gives, obtained at run time (V8 flags set after start apply to new contexts). */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Samples process.memoryUsage() every `everyMs` until `stop()`, keeping the RSS peak and what
 * `load()` (e.g. accounts at work) said at it. With `liveHeapEveryMs`, a full collection that
 * often too, to tell live data from garbage V8 has not collected yet: it slows the process, so a
 * run measured that way times nothing.
 */
export function sampleMemory(options: { everyMs: number; load?: () => number; liveHeapEveryMs?: number }) {
  const load = options.load ?? (() => 0);
  const gc = options.liveHeapEveryMs ? exposedGc() : undefined;
  const liveHeap = () => {
    gc!();
    return process.memoryUsage().heapUsed;
  };
  const start = process.memoryUsage();
  const peak: MemoryPeak = { before: start.rss, rss: start.rss, heapUsed: start.heapUsed, load: 0, mostLoad: 0, samples: 0 };
  if (gc) {
    const before = liveHeap();
    peak.liveHeap = { before, peak: before };
  }
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    const now = load();
    peak.samples++;
    peak.mostLoad = Math.max(peak.mostLoad, now);
    if (rss > peak.rss) Object.assign(peak, { rss, heapUsed, load: now });
  };
  // Unreferenced: a run that fails must not be kept alive by its sampler.
  const timer = setInterval(sample, options.everyMs);
  timer.unref();
  const collector = gc
    ? setInterval(() => {
        peak.liveHeap!.peak = Math.max(peak.liveHeap!.peak, liveHeap());
      }, options.liveHeapEveryMs)
    : undefined;
  collector?.unref();
  return {
    stop(): MemoryPeak {
      clearInterval(timer);
      clearInterval(collector);
      sample();
      return peak;
    },
  };
}
