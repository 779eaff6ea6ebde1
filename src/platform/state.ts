import { ddb, epochSeconds, isConditionalCheckFailed } from './dynamo';
import { tableName } from './tables';

/** Short-lived coordination records in the state table; every one expires through its TTL. */
export interface StateStore {
  /** Creates `key` unless it exists; true if this caller created it (exactly-once gate). */
  claim(key: string, ttlSeconds: number, attributes?: Record<string, unknown>): Promise<boolean>;
  get<T extends Record<string, unknown>>(key: string): Promise<T | undefined>;
  release(key: string): Promise<void>;
}

export const dynamoState: StateStore = {
  async claim(key, ttlSeconds, attributes = {}) {
    try {
      await ddb.put({
        TableName: tableName('state'),
        Item: { ...attributes, pk: key, expiresAt: epochSeconds(Date.now()) + ttlSeconds },
        // An expired item may linger until DynamoDB sweeps it; treat it as absent.
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': epochSeconds(Date.now()) },
      });
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  },
  async get(key) {
    const out = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
    const item = out.Item as ({ expiresAt?: number } & Record<string, unknown>) | undefined;
    if (!item || (item.expiresAt !== undefined && item.expiresAt < epochSeconds(Date.now()))) return undefined;
    return item as never;
  },
  async release(key) {
    await ddb.delete({ TableName: tableName('state'), Key: { pk: key } });
  },
};
