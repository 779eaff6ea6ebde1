import { ddb } from '../platform/dynamo';
import { tableName } from '../platform/tables';
import type { AllowlistEntry, Grant } from './roles';

export interface AllowlistStore {
  get(teamId: string, userId: string): Promise<AllowlistEntry | undefined>;
  put(entry: AllowlistEntry): Promise<void>;
  /** Returns false when the user had no entry. */
  remove(teamId: string, userId: string): Promise<boolean>;
  list(teamId: string): Promise<AllowlistEntry[]>;
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
  async put(entry) {
    const item: Item = { ...key(entry.teamId, entry.userId), grants: entry.grants, addedBy: entry.addedBy, updatedAt: entry.updatedAt };
    await ddb.put({ TableName: tableName('allowlist'), Item: item });
  },
  async remove(teamId, userId) {
    const out = await ddb.delete({ TableName: tableName('allowlist'), Key: key(teamId, userId), ReturnValues: 'ALL_OLD' });
    return out.Attributes !== undefined;
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
