import { randomUUID } from 'node:crypto';
import { ddb, epochSeconds, isConditionalCheckFailed } from './dynamo';
import { tableName } from './tables';

/** Short-lived coordination records in the state table; every one expires through its TTL. */
export interface StateStore {
  /** Creates `key` unless it exists; true if this caller created it (exactly-once gate). */
  claim(key: string, ttlSeconds: number, attributes?: Record<string, unknown>): Promise<boolean>;
  get<T extends Record<string, unknown>>(key: string): Promise<T | undefined>;
  /** Deletes `key`; with `owner`, only while the record still belongs to it (a lock taken over by someone else stays). */
  release(key: string, owner?: Record<string, string>): Promise<void>;
  /** Moves the expiry of an existing record; false when it is gone (or belongs to someone else, with `owner`). */
  refresh(key: string, ttlSeconds: number, owner?: Record<string, string>): Promise<boolean>;
  /** Writes `key` whatever was there (a setting that replaces the previous one, such as a mute). */
  put(key: string, ttlSeconds: number, attributes: Record<string, unknown>): Promise<void>;
  /** Deletes `key` and returns what it held, unless it was absent or expired: one request, so two callers never both get it. */
  take<T extends Record<string, unknown>>(key: string): Promise<T | undefined>;
}

const isLive = (item: { expiresAt?: unknown } | undefined, nowMs: number): boolean =>
  !!item && !(typeof item.expiresAt === 'number' && item.expiresAt < epochSeconds(nowMs));

/** `{ deployId: 'abc' }` → a condition that the item's deployId is 'abc'. */
function ownedBy(owner: Record<string, string>): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, string>;
} {
  const entries = Object.entries(owner);
  return {
    ConditionExpression: entries.map((_, i) => `#o${i} = :o${i}`).join(' AND '),
    ExpressionAttributeNames: Object.fromEntries(entries.map(([field], i) => [`#o${i}`, field])),
    ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], i) => [`:o${i}`, value])),
  };
}

export const dynamoState: StateStore = {
  async claim(key, ttlSeconds, attributes = {}) {
    // A token of this attempt: if the SDK retries a put whose answer was lost, the retry fails its
    // condition on our own item, and the token tells that the claim is ours after all.
    const claimToken = randomUUID();
    try {
      await ddb.put({
        TableName: tableName('state'),
        Item: { ...attributes, pk: key, claimToken, expiresAt: epochSeconds(Date.now()) + ttlSeconds },
        // An expired item may linger until DynamoDB sweeps it; treat it as absent.
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': epochSeconds(Date.now()) },
      });
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      const current = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
      return current.Item?.claimToken === claimToken;
    }
  },
  async get(key) {
    const out = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
    // An expired item may linger until DynamoDB sweeps it; treat it as absent.
    return isLive(out.Item, Date.now()) ? (out.Item as never) : undefined;
  },
  async release(key, owner) {
    try {
      await ddb.delete({ TableName: tableName('state'), Key: { pk: key }, ...(owner ? ownedBy(owner) : {}) });
    } catch (error) {
      if (!(owner && isConditionalCheckFailed(error))) throw error;
    }
  },
  async refresh(key, ttlSeconds, owner) {
    const condition = owner ? ownedBy(owner) : { ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: {}, ExpressionAttributeValues: {} };
    try {
      await ddb.update({
        TableName: tableName('state'),
        Key: { pk: key },
        UpdateExpression: 'SET expiresAt = :expires',
        ConditionExpression: condition.ConditionExpression,
        ...(Object.keys(condition.ExpressionAttributeNames).length ? { ExpressionAttributeNames: condition.ExpressionAttributeNames } : {}),
        ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ':expires': epochSeconds(Date.now()) + ttlSeconds },
      });
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  },
  async put(key, ttlSeconds, attributes) {
    await ddb.put({ TableName: tableName('state'), Item: { ...attributes, pk: key, expiresAt: epochSeconds(Date.now()) + ttlSeconds } });
  },
  async take(key) {
    const out = await ddb.delete({ TableName: tableName('state'), Key: { pk: key }, ReturnValues: 'ALL_OLD' });
    return isLive(out.Attributes, Date.now()) ? (out.Attributes as never) : undefined;
  },
};
