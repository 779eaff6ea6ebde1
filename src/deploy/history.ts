/**
 * What each service ran after each deploy, so `/ecs rollback web` goes back to the revision that
 * last ran well, not merely the newest older number (which may be the revision that just failed).
 * One state-table item per target, newest first, the last 30 deploys, kept for a year.
 */
import { ddb, epochSeconds } from '../platform/dynamo';
import { tableName } from '../platform/tables';
import { deployHistoryKey } from '../platform/state-keys';

export interface DeployHistoryEntry {
  taskDefinition: string;
  /** success: it rolled out and was steady; failure: its rollout failed. */
  outcome: 'success' | 'failure';
  deployId: string;
  at: string;
}

export interface DeployHistory {
  record(target: string, entry: DeployHistoryEntry): Promise<void>;
  /** Newest first. */
  list(target: string): Promise<DeployHistoryEntry[]>;
}

const KEEP = 30;
const YEAR_SECONDS = 365 * 86_400;
const key = (target: string) => ({ pk: deployHistoryKey(target) });

export const dynamoDeployHistory: DeployHistory = {
  async record(target, entry) {
    const out = await ddb.update({
      TableName: tableName('state'),
      Key: key(target),
      UpdateExpression: 'SET entries = list_append(:entry, if_not_exists(entries, :none)), expiresAt = :ttl',
      ExpressionAttributeValues: { ':entry': [entry], ':none': [], ':ttl': epochSeconds(Date.now()) + YEAR_SECONDS },
      ReturnValues: 'UPDATED_NEW',
    });
    const length = (out.Attributes?.entries as unknown[] | undefined)?.length ?? 0;
    if (length > KEEP) {
      const drop = Array.from({ length: length - KEEP }, (_, i) => `entries[${KEEP + i}]`);
      await ddb.update({ TableName: tableName('state'), Key: key(target), UpdateExpression: `REMOVE ${drop.join(', ')}` });
    }
  },
  async list(target) {
    const out = await ddb.get({ TableName: tableName('state'), Key: key(target), ConsistentRead: true });
    return (out.Item?.entries as DeployHistoryEntry[] | undefined) ?? [];
  },
};
