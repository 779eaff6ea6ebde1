/**
 * Muted notifications: `/ecs mute web 1h` silences web's notifications until a time, the notifier
 * asks `mutedUntil` before it posts. One record per target in the state table, which expires by
 * its TTL at `until` (DynamoDB sweeps it later, so the time is also compared on every read).
 */
import { epochSeconds } from '../platform/dynamo';
import type { StateStore } from '../platform/state';
import { muteKey } from '../platform/state-keys';

export interface MuteRecord {
  target: string;
  /** ISO 8601: notifications resume at this time. */
  until: string;
  /** The Slack user id of who muted it. */
  by: string;
  reason?: string;
}

export interface MuteStore {
  /** Replaces any mute of that target. */
  mute(record: MuteRecord): Promise<void>;
  /** The mute it removed, if any. */
  unmute(target: string): Promise<MuteRecord | undefined>;
  /** Undefined when not muted or expired. */
  mutedUntil(target: string, now?: number): Promise<MuteRecord | undefined>;
}

/** A record read back: only the fields of a mute, whatever else the table keeps beside them (pk, expiresAt). */
function recordOf(item: Record<string, unknown> | undefined): MuteRecord | undefined {
  if (!item || typeof item.target !== 'string' || typeof item.until !== 'string' || typeof item.by !== 'string') return undefined;
  return { target: item.target, until: item.until, by: item.by, ...(typeof item.reason === 'string' ? { reason: item.reason } : {}) };
}

export class InvalidMuteError extends Error {}

export function stateMuteStore(state: Pick<StateStore, 'get' | 'put' | 'take'>, clock: () => number = Date.now): MuteStore {
  return {
    async mute(record) {
      const untilMs = Date.parse(record.until);
      if (Number.isNaN(untilMs)) throw new InvalidMuteError(`a mute needs an ISO time to end at, not "${record.until}"`);
      // The TTL is the end of the mute: DynamoDB deletes it some time after, reads ignore it at once.
      const ttlSeconds = epochSeconds(untilMs) - epochSeconds(clock());
      await state.put(muteKey(record.target), ttlSeconds, { ...record });
    },
    async unmute(target) {
      const removed = recordOf(await state.take(muteKey(target)));
      return removed && Date.parse(removed.until) > clock() ? removed : undefined;
    },
    async mutedUntil(target, now = clock()) {
      const record = recordOf(await state.get(muteKey(target)));
      return record && Date.parse(record.until) > now ? record : undefined;
    },
  };
}
