import { ddb, isConditionalCheckFailed } from '../platform/dynamo';
import { UserFacingError } from '../platform/errors';
import { tableName } from '../platform/tables';
import type { AllowlistEntry, Grant } from './roles';

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

const key = (teamId: string, userId: string) => ({ pk: `team#${teamId}`, sk: `user#${userId}` });

interface Item {
  pk: string;
  sk: string;
  grants: Grant[];
  addedBy: string;
  updatedAt: string;
}

const toEntry = (item: Item): AllowlistEntry => ({
  teamId: item.pk.slice('team#'.length),
  userId: item.sk.slice('user#'.length),
  grants: item.grants ?? [],
  addedBy: item.addedBy,
  updatedAt: item.updatedAt,
});

export const dynamoAllowlist: AllowlistStore = {
  async get(teamId, userId) {
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
  async list(teamId) {
    const entries: AllowlistEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await ddb.query({
        TableName: tableName('allowlist'),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `team#${teamId}` },
        ExclusiveStartKey: start,
      });
      entries.push(...((out.Items ?? []) as Item[]).map(toEntry));
      start = out.LastEvaluatedKey;
    } while (start);
    return entries;
  },
};
