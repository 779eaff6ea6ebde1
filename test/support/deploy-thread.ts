import { expect } from 'vitest';
import type { World } from '../../local/world';
import { channelReader } from './slack-thread';

/**
 * Asking for deploys in end-to-end tests and waiting for their end: the channel's reader
 * (channelReader), AWS calls that succeeded, the request a `/ecs deploy …` became, and the parent's
 * text once it shows the outcome.
 */
export function deployRequests(world: () => World, channel: string) {
  const reader = channelReader(world, channel);
  const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
  return {
    ...reader,
    /** AWS calls of `action` that succeeded, in order. */
    calls: (action: string) => world().aws.calls.filter((c) => c.action === action && c.status === 200),
    /** `text` typed by `user`: the request it became (or the refusal on its parent). */
    async requestDeploy(text: string, user = 'U0ALICE') {
      const before = new Set(reader.parents().map((m) => m.ts));
      expect(ephemeral(await world().slash(user, text, channel))).toMatch(/Working on/);
      return world().slack.waitFor(
        () => reader.parents().find((m) => !before.has(m.ts) && /React :white_check_mark: to approve|Cannot deploy|❌/.test(m.text)),
        20_000,
      );
    },
    /** The parent's text (on one line) once it shows the outcome. */
    finished: (ts: string, timeoutMs = 90_000) =>
      world().slack.waitFor(() => {
        const text = (world().slack.message(channel, ts)?.text ?? '').replaceAll('\n', ' ');
        return /^(✅|❌|⚠️|🚫)/.test(text) ? text : undefined;
      }, timeoutMs),
  };
}
