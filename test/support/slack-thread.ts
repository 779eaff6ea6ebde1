import type { World } from '../../local/world';

/** Reading a channel of the local Slack in end-to-end tests: its parent messages, a thread's text, someone's ephemerals. */
export function channelReader(world: () => World, channel: string) {
  return {
    parents: () => (world().slack.workspace.messages[channel] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts),
    threadText: (ts: string) =>
      world()
        .slack.replies(channel, ts)
        .map((r) => r.text)
        .join('\n'),
    ephemeralsFor: (user: string) =>
      world()
        .slack.workspace.ephemerals.filter((e) => e.user === user)
        .map((e) => e.text),
  };
}
