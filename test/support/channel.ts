/**
 * What end-to-end tests read of one channel of the local world: the parent messages, a thread as
 * text, an ack's ephemeral text, a parent once it is marked with its outcome, and the team's audit
 * records.
 */
import { afterAll, beforeAll } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit';
import type { Config } from '../../src/config/schema';
import { startWorld, type World } from '../../local/world';

/** A world for the file's tests, started before them and closed after: `world()` reads it. */
export function useWorld(options: Parameters<typeof startWorld>[0]): () => World {
  let world: World | undefined;
  beforeAll(async () => {
    world = await startWorld(options);
  });
  afterAll(async () => {
    await world?.close();
  });
  return () => world!;
}

/**
 * `useWorld`, with the configuration the world started with and the way to replace it for a test
 * (`setConfig(baseConfig)` or `setConfig(undefined)` puts it back; after all, it is put back).
 */
export function useConfigurableWorld(options: Parameters<typeof startWorld>[0]): () => {
  world: World;
  setConfig: (config: Config | undefined) => void;
  baseConfig: Config;
} {
  const world = useWorld(options);
  let load: typeof import('../../src/config/load') | undefined;
  let baseConfig: Config | undefined;
  beforeAll(async () => {
    load = await import('../../src/config/load');
    baseConfig = load.getConfig();
  });
  afterAll(() => {
    load?.setConfig(undefined);
  });
  return () => ({ world: world(), setConfig: load!.setConfig, baseConfig: baseConfig! });
}

export function channelView(world: () => World, channel: string) {
  const parents = () => (world().slack.workspace.messages[channel] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  const threadText = (ts: string) =>
    world()
      .slack.replies(channel, ts)
      .map((r) => r.text)
      .join('\n');
  /** The parent's text on one line once it is marked ✅ ❌ ⚠️ or 🚫. */
  const finished = (ts: string) =>
    world().slack.waitFor(() => {
      // One line: the parent keeps the request's detail lines before the outcome.
      const text = (world().slack.message(channel, ts)?.text ?? '').replaceAll('\n', ' ');
      return /^(✅|❌|⚠️|🚫)/.test(text) ? text : undefined;
    }, 60_000);
  /** The first parent posted after the first `before` ones (matching `text`, if given). */
  const newParent = (before: number, text?: RegExp) =>
    world()
      .slack.waitFor(
        () =>
          parents()
            .slice(before)
            .find((m) => !text || text.test(m.text)),
        20_000,
      )
      .catch((error: Error) => {
        // Say what did arrive: a timeout alone tells nothing of which step never came.
        const since = parents()
          .slice(before)
          .map((m) => m.text.slice(0, 120));
        throw new Error(`${error.message}: no parent matching ${text ?? 'anything'} after the first ${before}; since then: ${JSON.stringify(since)}`);
      });
  return { parents, threadText, finished, newParent };
}

/** The text of a slash command's ack (an ephemeral answer). */
export const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;

/** Every audit record of the world's team, newest first. */
export async function teamAudit(world: World): Promise<AuditRecord[]> {
  const { ddb } = await import('../../src/platform/dynamo');
  const { tableName } = await import('../../src/platform/tables');
  const out = await ddb.query({
    TableName: tableName('audit'),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
    ScanIndexForward: false,
  });
  return (out.Items ?? []) as AuditRecord[];
}
