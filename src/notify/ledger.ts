/**
 * Exactly once per event, across EventBridge's duplicates and Lambda's retries. An event is
 * claimed before anything else; its counters are recorded once (`recorded`); Slack writes follow,
 * each guarded by its own conditional claim, so an invocation that failed after recording is
 * retried without counting again, and one that failed before recording gives the event back.
 */
import type { StateStore } from '../platform/state';

/** EventBridge retries for up to 24 h; a day covers every redelivery. */
const KEEP_SECONDS = 86_400;

export type Stage = 'claimed' | 'recorded' | 'done';

export interface EventLedger {
  /**
   * `new`: handle it. `resume`: a previous attempt recorded it and then failed; do the Slack part.
   * `duplicate`: done, or being handled right now by another invocation.
   */
  begin(key: string): Promise<'new' | 'resume' | 'duplicate'>;
  mark(key: string, stage: Exclude<Stage, 'claimed'>): Promise<void>;
  /** Gives an event back that was not recorded, so its retry handles it from the start. */
  release(key: string): Promise<void>;
}

/** The ledger as records of the state table: the same exactly-once claim every other gate uses. */
export function stateLedger(state: StateStore): EventLedger {
  return {
    async begin(key) {
      if (await state.claim(key, KEEP_SECONDS, { stage: 'claimed' })) return 'new';
      const current = await state.get<{ stage?: Stage }>(key);
      return current?.stage === 'recorded' ? 'resume' : 'duplicate';
    },
    async mark(key, stage) {
      await state.put(key, KEEP_SECONDS, { stage });
    },
    async release(key) {
      // Only while it is still merely claimed: a recorded event is resumed by its retry, never restarted.
      await state.release(key, { stage: 'claimed' });
    },
  };
}
