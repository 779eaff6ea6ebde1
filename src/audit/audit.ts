import { ddb, epochSeconds, isConditionalCheckFailed } from '../platform/dynamo';
import { log } from '../platform/logger';
import { reportAuditFailure } from './failures';
import { tableName } from '../platform/tables';

export type AuditDecision = 'allowed' | 'denied' | 'invalid';
/**
 * `unconfirmed`: handed to the worker, but the hand-off did not answer in time, so whether it runs
 * is unknown; the worker (or its crash report) takes it from there as from `accepted`.
 */
export type AuditOutcome = 'accepted' | 'unconfirmed' | 'answered' | 'success' | 'warning' | 'failure' | 'cancelled' | 'error' | 'refused';

/** Outcomes of an attempt that is still under way. */
export const IN_FLIGHT: AuditOutcome[] = ['accepted', 'unconfirmed'];

export interface AuditRecord {
  id: string;
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  /** What the person typed, as typed (`/ecs status web`). */
  commandText: string;
  verb?: string;
  target?: string;
  /** The script (`/ecs run`) or job (`/ecs job`) the request names, beside its service in `target`. */
  script?: string;
  decision: AuditDecision;
  reason?: string;
  outcome: AuditOutcome;
  at: string;
  durationMs?: number;
  awsRequestIds?: string[];
  /** Where the answer lives (parent message), once there is one. */
  threadTs?: string;
  detail?: Record<string, unknown>;
  /** Where a request came from other than Slack: the signed API (src/api/), a ticket webhook (src/webhooks/), or a schedule (principal `schedule:<name>`, src/schedules/). */
  via?: 'api' | 'webhook' | 'schedule';
  /** The IAM principal that signed it, as API Gateway named it (a role session's ARN, for a session). */
  principal?: string;
  /** The ticket the caller named. */
  ticket?: string;
  /** The ticket's link, for a request from a ticket webhook (src/webhooks/). */
  ticketUrl?: string;
  /**
   * Which of its source's secrets signed a ticket webhook (src/webhooks/secrets.ts): `previous` while a
   * rotation is under way. Never the secret; not named `…secret…`, which the logger would mask.
   */
  signedWith?: 'current' | 'previous';
  /** The thread's permalink, kept for a request from the signed API (its `GET /api/runs/{id}` answers it). */
  threadLink?: string;
}

export interface AuditKey {
  pk: string;
  sk: string;
}

export interface AuditLog {
  record(entry: AuditRecord): Promise<AuditKey>;
  /**
   * Records how an attempt ended. With `onlyIf`, only while the record still has that outcome: the
   * worker's "accepted, continues in a workflow" must not overwrite a workflow that already ended.
   */
  complete(
    key: AuditKey,
    result: Pick<AuditRecord, 'outcome'> &
      Partial<Pick<AuditRecord, 'decision' | 'durationMs' | 'awsRequestIds' | 'threadTs' | 'threadLink' | 'reason' | 'detail'>>,
    onlyIf?: { outcome: AuditOutcome | AuditOutcome[] },
  ): Promise<void>;
}

function auditKey(entry: Pick<AuditRecord, 'teamId' | 'at' | 'id'>): AuditKey {
  return { pk: `team#${entry.teamId}`, sk: `${entry.at}#${entry.id}` };
}

/**
 * The attributes the audit table's global secondary indexes are keyed on (serverless.yml:
 * `byTarget`, `byUser`, `byScript`, each sorted by the table's `sk`, `<at>#<id>`), written with every
 * record so `/ecs history` queries one service, script or person over a time range instead of
 * reading the whole team. Records written before these existed are in no index.
 */
export function auditIndexKeys(entry: Pick<AuditRecord, 'teamId' | 'userId' | 'target' | 'script'>): Record<string, string> {
  return {
    userKey: `user#${entry.teamId}#${entry.userId}`,
    ...(entry.target ? { targetKey: `target#${entry.teamId}#${entry.target}` } : {}),
    ...(entry.script ? { scriptKey: `script#${entry.teamId}#${entry.script}` } : {}),
  };
}

function retentionSeconds(retentionDays: number): number | undefined {
  return retentionDays > 0 ? retentionDays * 86_400 : undefined;
}

/** A record as stored: its keys, its index keys, and when DynamoDB may expire it. */
export function auditItem(entry: AuditRecord, retentionDays: number): Record<string, unknown> {
  const ttl = retentionSeconds(retentionDays);
  return { ...auditKey(entry), ...entry, ...auditIndexKeys(entry), ...(ttl ? { expiresAt: epochSeconds(Date.parse(entry.at)) + ttl } : {}) };
}

/** Every attempt goes to the audit table and, as structured JSON, to the logs. */
export function dynamoAudit(retentionDays: number): AuditLog {
  return {
    async record(entry) {
      const key = auditKey(entry);
      log.info('audit', { audit: entry });
      try {
        await ddb.put({ TableName: tableName('audit'), Item: auditItem(entry, retentionDays) });
      } catch (error) {
        await reportAuditFailure('record', key, error);
        throw error;
      }
      return key;
    },
    async complete(key, result, onlyIf) {
      log.info('audit.complete', { audit: { ...key, ...result } });
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {};
      const sets: string[] = [];
      for (const [field, value] of Object.entries(result)) {
        if (value === undefined) continue;
        names[`#${field}`] = field;
        values[`:${field}`] = value;
        sets.push(`#${field} = :${field}`);
      }
      const allowed = onlyIf ? [onlyIf.outcome].flat() : [];
      if (onlyIf) {
        names['#current'] = 'outcome';
        allowed.forEach((outcome, i) => (values[`:current${i}`] = outcome));
      }
      try {
        await ddb.update({
          TableName: tableName('audit'),
          Key: key,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: onlyIf ? `attribute_exists(pk) AND #current IN (${allowed.map((_, i) => `:current${i}`).join(', ')})` : 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        });
      } catch (error) {
        // The record moved on (a workflow completed it first): that completion stands.
        if (onlyIf && isConditionalCheckFailed(error)) return;
        await reportAuditFailure('complete', key, error);
        throw error;
      }
    },
  };
}

/** One audit record as stored (strongly consistent), for the crash report: did the attempt end, where is its thread. */
export async function readAuditRecord(key: AuditKey): Promise<AuditRecord | undefined> {
  const out = await ddb.get({ TableName: tableName('audit'), Key: key, ConsistentRead: true });
  return out.Item as AuditRecord | undefined;
}
