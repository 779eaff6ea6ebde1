/**
 * Exactly once per event, across EventBridge's duplicates and Lambda's retries. An event is
 * claimed before anything else; its counters are recorded once (`recorded`); Slack writes follow,
 * each guarded by its own conditional claim, so an invocation that failed after recording is
 * retried without counting again, and one that failed before recording gives the event back.
 */
import { ddb, epochSeconds, isConditionalCheckFailed } from '../platform/dynamo';
import { tableName } from '../platform/tables';

/** EventBridge retries for up to 24 h; a day covers every redelivery. */
const KEEP_SECONDS = 86_400;

export type Stage = 'claimed' | 'recorded' | 'done';

export interface EventLedger {
  /**
   * `new`: handle it. `resume`: a previous attempt recorded it and then failed; do the Slack part.
   * `duplicate`: done, or being handled right now by another invocation.
   */
  begin(key: string, now: number): Promise<'new' | 'resume' | 'duplicate'>;
  mark(key: string, stage: Exclude<Stage, 'claimed'>): Promise<void>;
  /** Gives an event back that was not recorded, so its retry handles it from the start. */
  release(key: string): Promise<void>;
}

export const dynamoLedger: EventLedger = {
  async begin(key, now) {
    try {
      await ddb.put({
        TableName: tableName('state'),
        Item: { pk: key, stage: 'claimed', expiresAt: epochSeconds(now) + KEEP_SECONDS },
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': epochSeconds(now) },
      });
      return 'new';
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const current = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
    return current.Item?.stage === 'recorded' ? 'resume' : 'duplicate';
  },
  async mark(key, stage) {
    await ddb.update({
      TableName: tableName('state'),
      Key: { pk: key },
      UpdateExpression: 'SET stage = :stage',
      ExpressionAttributeValues: { ':stage': stage },
    });
  },
  async release(key) {
    await ddb
      .delete({
        TableName: tableName('state'),
        Key: { pk: key },
        ConditionExpression: 'stage = :claimed',
        ExpressionAttributeValues: { ':claimed': 'claimed' },
      })
      .catch((error: unknown) => {
        if (!isConditionalCheckFailed(error)) throw error;
      });
  },
};
