import { ddb, isConditionalCheckFailed } from '../platform/dynamo';
import { UserFacingError } from '../platform/errors';
import { tableName } from '../platform/tables';
import { matchesPattern, principalArnOf } from '../api/principal';
import { WEBHOOK_USER_PREFIX, webhookUserId } from '../slack/invocation';
import type { AllowlistEntry, Grant } from './roles';

/**
 * Two kinds of entry share the table. A person: `user#<Slack user id>`. An IAM principal pattern
 * (the signed API's callers): `principal#<ARN pattern>`, whose entry's userId is
 * `iamp:<pattern>` (the form `/ecs allow` administers). A caller is looked up as
 * `iam:<principal ARN>`: the grants of every pattern that matches it, together (deny by default:
 * none matches, no entry). A ticket webhook's source: `webhook#<source>`, userId `webhook:<source>`.
 */
export const PATTERN_USER_PREFIX = 'iamp:';
export const patternUserId = (pattern: string): string => `${PATTERN_USER_PREFIX}${pattern}`;
export const patternOf = (userId: string): string | undefined =>
  userId.startsWith(PATTERN_USER_PREFIX) ? userId.slice(PATTERN_USER_PREFIX.length) : undefined;

/** The grants of every pattern entry matching `arn`, as one entry of the caller (undefined: none). */
export function resolvePrincipal(teamId: string, arn: string, patterns: AllowlistEntry[]): AllowlistEntry | undefined {
  const matching = patterns.filter((e) => {
    const pattern = patternOf(e.userId);
    return pattern !== undefined && matchesPattern(pattern, arn);
  });
  if (matching.length === 0) return undefined;
  const newest = matching.reduce((a, b) => (a.updatedAt >= b.updatedAt ? a : b));
  return {
    teamId,
    userId: `iam:${arn}`,
    grants: matching.flatMap((e) => e.grants),
    addedBy: newest.addedBy,
    updatedAt: newest.updatedAt,
  };
}

export interface AllowlistStore {
  get(teamId: string, userId: string): Promise<AllowlistEntry | undefined>;
  /**
   * Stores an entry. With `previous`, only if the stored entry is still that one (`null`: there
   * was none), so two admins changing one person at once cannot lose either change.
   */
  put(entry: AllowlistEntry, previous?: Pick<AllowlistEntry, 'updatedAt'> | null): Promise<void>;
  /** Returns false when the user had no entry. With `previous`, only that entry (else AllowlistChangedError). */
  remove(teamId: string, userId: string, previous?: Pick<AllowlistEntry, 'updatedAt'>): Promise<boolean>;
  list(teamId: string): Promise<AllowlistEntry[]>;
}

/** Someone else changed the entry between our read and our write. */
export class AllowlistChangedError extends UserFacingError {
  constructor() {
    super('That person’s allowlist entry changed while I was updating it; nothing was stored. Run the command again.');
  }
}

/** A ticket webhook's source (`webhook:<source>`, src/webhooks/) has an entry of its own kind, read by its key. */
const WEBHOOK_SK = 'webhook#';

const key = (teamId: string, userId: string) => {
  const pattern = patternOf(userId);
  if (pattern !== undefined) return { pk: `team#${teamId}`, sk: `principal#${pattern}` };
  if (userId.startsWith(WEBHOOK_USER_PREFIX)) return { pk: `team#${teamId}`, sk: `${WEBHOOK_SK}${userId.slice(WEBHOOK_USER_PREFIX.length)}` };
  return { pk: `team#${teamId}`, sk: `user#${userId}` };
};

function userIdOf(sk: string): string {
  if (sk.startsWith('principal#')) return patternUserId(sk.slice('principal#'.length));
  if (sk.startsWith(WEBHOOK_SK)) return webhookUserId(sk.slice(WEBHOOK_SK.length));
  return sk.slice('user#'.length);
}

interface Item {
  pk: string;
  sk: string;
  grants: Grant[];
  addedBy: string;
  updatedAt: string;
}

const toEntry = (item: Item): AllowlistEntry => ({
  teamId: item.pk.slice('team#'.length),
  userId: userIdOf(item.sk),
  grants: item.grants ?? [],
  addedBy: item.addedBy,
  updatedAt: item.updatedAt,
});

/** A team's entries (people and principal patterns), or those whose sort key begins with `kind`. */
async function teamEntries(teamId: string, kind?: 'principal#', consistent = false): Promise<AllowlistEntry[]> {
  const entries: AllowlistEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({
      TableName: tableName('allowlist'),
      KeyConditionExpression: kind ? 'pk = :pk AND begins_with(sk, :kind)' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `team#${teamId}`, ...(kind ? { ':kind': kind } : {}) },
      ...(consistent ? { ConsistentRead: true } : {}),
      ExclusiveStartKey: start,
    });
    entries.push(...((out.Items ?? []) as Item[]).map(toEntry));
    start = out.LastEvaluatedKey;
  } while (start);
  return entries;
}

export const dynamoAllowlist: AllowlistStore = {
  async get(teamId, userId) {
    const arn = principalArnOf(userId);
    // Strongly consistent, as for a person: a pattern removed stops matching at once.
    if (arn !== undefined) return resolvePrincipal(teamId, arn, await teamEntries(teamId, 'principal#', true));
    // Strongly consistent: a revoked user must lose access at once.
    const out = await ddb.get({ TableName: tableName('allowlist'), Key: key(teamId, userId), ConsistentRead: true });
    return out.Item ? toEntry(out.Item as Item) : undefined;
  },
  async put(entry, previous) {
    const item: Item = { ...key(entry.teamId, entry.userId), grants: entry.grants, addedBy: entry.addedBy, updatedAt: entry.updatedAt };
    const condition =
      previous === undefined
        ? {}
        : previous === null
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'updatedAt = :previous', ExpressionAttributeValues: { ':previous': previous.updatedAt } };
    try {
      await ddb.put({ TableName: tableName('allowlist'), Item: item, ...condition });
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new AllowlistChangedError();
      throw error;
    }
  },
  async remove(teamId, userId, previous) {
    try {
      const out = await ddb.delete({
        TableName: tableName('allowlist'),
        Key: key(teamId, userId),
        ReturnValues: 'ALL_OLD',
        ...(previous ? { ConditionExpression: 'updatedAt = :previous', ExpressionAttributeValues: { ':previous': previous.updatedAt } } : {}),
      });
      return out.Attributes !== undefined;
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new AllowlistChangedError();
      throw error;
    }
  },
  list(teamId) {
    return teamEntries(teamId);
  },
};
