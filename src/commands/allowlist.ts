import { grantsWithinScope } from '../auth/administration';
import { labelsOfGranted } from '../fleet/grant-labels';
import { declaredLabels } from '../fleet/memory-catalog';
import { describeGrant } from '../auth/roles';
import { mention } from '../slack/invocation';
import type { AckAnswer } from './types';
import type { NoArgs } from './verb';

/** An ephemeral message stays readable, and well under Slack's text limit, within these bounds. */
const ALLOWLIST_MAX_PEOPLE = 50;
const ALLOWLIST_MAX_CHARS = 12_000;

/**
 * `/ecs allowlist`: who may do what, limited to the grants within the asking admin's scope. With a
 * catalog in the context (the worker's form, with `fleet:`), the discovered services the grants name
 * are judged by their labels read from it; on the ack path (no `fleet:`), the declared targets'.
 */
export const allowlist: AckAnswer<NoArgs> = async (_args, { allowlist: store, invocation, entry, config, catalog }) => {
  const everyone = await store.list(invocation.teamId);
  const labels = catalog
    ? await labelsOfGranted(
        config,
        async () => catalog,
        everyone.flatMap((e) => e.grants),
      )
    : declaredLabels(config);
  const entries = everyone
    .map((e) => ({ userId: e.userId, grants: grantsWithinScope(entry, e.grants, invocation.channelId, labels) }))
    .filter((e) => e.grants.length > 0)
    .sort((a, b) => a.userId.localeCompare(b.userId));
  if (entries.length === 0) return { text: 'Nobody holds a role within your scope.' };
  const lines: string[] = [];
  let size = 0;
  for (const e of entries) {
    const line = `• ${mention(e.userId)}: ${e.grants.map((g) => describeGrant(g, labels)).join('; ')}`;
    if (lines.length === ALLOWLIST_MAX_PEOPLE || size + line.length > ALLOWLIST_MAX_CHARS) break;
    lines.push(line);
    size += line.length + 1;
  }
  const more = entries.length - lines.length;
  return {
    text: [
      `*Allowlist* within your scope (${entries.length} ${entries.length === 1 ? 'person' : 'people'})`,
      ...lines,
      ...(more ? [`…and ${more} more (\`npm run allowlist -- list\` prints them all)`] : []),
    ].join('\n'),
  };
};
