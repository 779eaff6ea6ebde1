import type { AllowlistStore } from '../auth/allowlist';
import type { AllowlistEntry } from '../auth/roles';
import type { Config } from '../config/schema';
import type { CatalogReader } from '../fleet/types';
import type { StateStore } from '../platform/state';
import type { Invocation } from '../slack/invocation';
import type { SlackMessage } from '../slack/message';

/** What an ack-path command gets: it answers ephemerally, within Slack's 3 seconds. */
export interface AckContext {
  invocation: Invocation;
  config: Config;
  /** The caller's allowlist entry, already read for authorization. */
  entry: AllowlistEntry | undefined;
  allowlist: AllowlistStore;
  state: StateStore;
  /**
   * Ends a detached run's wait between polls (src/workflows/run-wake.ts); false when that wait is
   * already over. Absent: nothing is woken and the run's workflow sees a cancel at its next poll.
   */
  wakeRun?: (callbackId: string) => Promise<boolean>;
  /** The fleet's catalog (src/fleet/); absent: the declared targets, from memory (src/fleet/memory-catalog.ts). */
  catalog?: CatalogReader;
}

/** An ack verb's answer, given the arguments its `parse` returned. */
export type AckAnswer<Args> = (args: Args, ctx: AckContext) => Promise<SlackMessage> | SlackMessage;
