/**
 * One open incident per target in the state table: what its message shows (counters, the latest
 * reasons, the deployment's fate) and who may write to Slack next. Each change is one conditional
 * update, so a burst of events handled by many notifier invocations at once still opens one
 * incident, counts every stop once, posts each diagnosis once and edits the message at most once
 * per interval; the close is won by exactly one invocation.
 */
import { conditionalUpdate, ddb, epochSeconds, isConditionalCheckFailed } from '../platform/dynamo';
import { incidentKey } from '../platform/state-keys';
import { tableName } from '../platform/tables';
import { randomUUID } from 'node:crypto';

/** Kept a week after its last event, then DynamoDB forgets it. */
const KEEP_SECONDS = 7 * 86_400;
/** At most this many diagnoses per incident (one per distinct way tasks stop). */
export const MAX_DIAGNOSES = 4;

export interface Incident {
  target: string;
  incidentId: string;
  channel: string;
  /** The incident's message, once posted. */
  ts?: string;
  /** When it was opened and last changed, by the notifier's clock (the window, staleness). */
  openedAt: number;
  lastAt: number;
  /** The first and latest events' own times (EventBridge `time`): what the message shows. */
  firstEventAt: number;
  lastEventAt: number;
  /** Tasks stopped for a reason worth telling. */
  stops: number;
  /** How they stopped (`exit 137 (OOM) in app`) → how many times. */
  signatures: Record<string, number>;
  /** Service actions (`SERVICE_TASK_PLACEMENT_FAILURE: RESOURCE:FARGATE`) → how many times. */
  actions: Record<string, number>;
  /** The deployment's latest word: failed, rolling back. */
  deployment?: { id?: string; state: string; reason?: string; at: number };
  /** Signatures (and action keys) already explained in the thread. */
  diagnosed: string[];
  renderedAt: number;
  closedAt?: number;
  resolution?: string;
}

export type IncidentChange =
  | { kind: 'stop'; signature: string }
  | { kind: 'action'; key: string }
  | { kind: 'deployment'; id?: string; state: string; reason?: string };

export interface IncidentStore {
  /** The target's incident if it is open and its last event is within `windowMs`. */
  open(target: string, now: number, windowMs: number): Promise<Incident | undefined>;
  /**
   * Adds a change to the open incident, or opens a new one with it; `opened` tells the caller it
   * must post the incident's message.
   */
  record(
    target: string,
    channel: string,
    change: IncidentChange,
    now: number,
    windowMs: number,
    eventAt?: number,
  ): Promise<{ incident: Incident; opened: boolean }>;
  /**
   * True for the one caller that must post the incident's message now: it has none yet and nobody
   * is posting it (or whoever was has been at it for 30 s: it failed, and its retry is this).
   */
  claimPost(target: string, incidentId: string, now: number): Promise<boolean>;
  /** Gives the post back after a failed attempt, so the event's retry may post it at once. */
  releasePost(target: string, incidentId: string): Promise<void>;
  /** Records the posted message; the incident as it is now. */
  attach(target: string, incidentId: string, ts: string): Promise<Incident | undefined>;
  /** True for the one caller that may explain `key` in the thread (a new way of failing, up to MAX_DIAGNOSES). */
  claimDiagnosis(target: string, incidentId: string, key: string): Promise<boolean>;
  /** The incident to render, for the one caller allowed to edit now (the last edit older than `intervalMs`, or `force`). */
  claimRender(target: string, incidentId: string, now: number, intervalMs: number, force?: boolean): Promise<Incident | undefined>;
  /** Closes the incident; the final state for the one caller that closed it. */
  close(target: string, incidentId: string, now: number, resolution: string): Promise<Incident | undefined>;
}

const fromItem = (item: Record<string, unknown> | undefined): Incident | undefined => {
  if (!item) return undefined;
  const diagnosed = item.diagnosed instanceof Set ? [...(item.diagnosed as Set<string>)] : ((item.diagnosed as string[] | undefined) ?? []);
  const { pk: _pk, expiresAt: _expires, postingAt: _posting, ...rest } = item;
  return { ...(rest as unknown as Incident), diagnosed: diagnosed.filter((d) => d !== '-') };
};

const isOpen = (incident: Incident | undefined, now: number, windowMs: number): incident is Incident =>
  !!incident && incident.closedAt === undefined && incident.lastAt > now - windowMs;

const conditional = async (input: Parameters<typeof conditionalUpdate>[0]): Promise<Incident | undefined> => fromItem(await conditionalUpdate(input));

/** `{ set, names, values }` of one change, applied to an incident that exists. */
function changeExpression(change: IncidentChange, now: number, eventAt: number) {
  const names: Record<string, string> = {};
  // DynamoDB refuses values the expression does not use: the counters' only with a counter.
  const counting = change.kind === 'stop' || change.kind === 'action';
  const values: Record<string, unknown> = {
    ':now': now,
    ':at': eventAt,
    ':expires': epochSeconds(now) + KEEP_SECONDS,
    ...(counting ? { ':zero': 0, ':one': 1 } : {}),
  };
  const sets = ['lastAt = :now', 'lastEventAt = :at', 'expiresAt = :expires'];
  if (change.kind === 'stop') {
    names['#sig'] = change.signature;
    sets.push('stops = if_not_exists(stops, :zero) + :one', 'signatures.#sig = if_not_exists(signatures.#sig, :zero) + :one');
  } else if (change.kind === 'action') {
    names['#act'] = change.key;
    sets.push('actions.#act = if_not_exists(actions.#act, :zero) + :one');
  } else {
    values[':deployment'] = { ...(change.id ? { id: change.id } : {}), state: change.state, ...(change.reason ? { reason: change.reason } : {}), at: now };
    sets.push('deployment = :deployment');
  }
  return { set: `SET ${sets.join(', ')}`, names, values };
}

export const dynamoIncidents: IncidentStore = {
  async open(target, now, windowMs) {
    const out = await ddb.get({ TableName: tableName('state'), Key: { pk: incidentKey(target) }, ConsistentRead: true });
    const incident = fromItem(out.Item);
    return isOpen(incident, now, windowMs) ? incident : undefined;
  },

  async record(target, channel, change, now, windowMs, eventAt = now) {
    const expression = changeExpression(change, now, eventAt);
    for (let attempt = 0; attempt < 5; attempt++) {
      // The open incident takes the change…
      const updated = await conditional({
        TableName: tableName('state'),
        Key: { pk: incidentKey(target) },
        UpdateExpression: expression.set,
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(closedAt) AND lastAt > :stale',
        ...(Object.keys(expression.names).length ? { ExpressionAttributeNames: expression.names } : {}),
        ExpressionAttributeValues: { ...expression.values, ':stale': now - windowMs },
      });
      if (updated) return { incident: updated, opened: false };
      // …or there is none (closed, or quiet for longer than the window): open one, unless another
      // invocation opens it first, in which case the update above is tried again.
      const incident: Incident = {
        target,
        incidentId: randomUUID(),
        channel,
        openedAt: now,
        lastAt: now,
        firstEventAt: eventAt,
        lastEventAt: eventAt,
        stops: change.kind === 'stop' ? 1 : 0,
        signatures: change.kind === 'stop' ? { [change.signature]: 1 } : {},
        actions: change.kind === 'action' ? { [change.key]: 1 } : {},
        ...(change.kind === 'deployment'
          ? { deployment: { ...(change.id ? { id: change.id } : {}), state: change.state, ...(change.reason ? { reason: change.reason } : {}), at: now } }
          : {}),
        diagnosed: [],
        // Its first message is its first rendering.
        renderedAt: now,
      };
      try {
        await ddb.put({
          TableName: tableName('state'),
          // A string set cannot be empty: '-' stands for "none yet" and is never shown.
          Item: { ...incident, diagnosed: new Set(['-']), pk: incidentKey(target), expiresAt: epochSeconds(now) + KEEP_SECONDS },
          ConditionExpression: 'attribute_not_exists(pk) OR attribute_exists(closedAt) OR lastAt <= :stale',
          ExpressionAttributeValues: { ':stale': now - windowMs },
        });
        return { incident, opened: true };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    throw new Error(`could not record an event on the incident of ${target}: too much contention`);
  },

  async claimPost(target, incidentId, now) {
    const claimed = await conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'SET postingAt = :now',
      ConditionExpression: 'incidentId = :id AND attribute_not_exists(ts) AND (attribute_not_exists(postingAt) OR postingAt < :stale)',
      ExpressionAttributeValues: { ':now': now, ':id': incidentId, ':stale': now - 30_000 },
    });
    return !!claimed;
  },

  async releasePost(target, incidentId) {
    await conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'REMOVE postingAt',
      ConditionExpression: 'incidentId = :id AND attribute_not_exists(ts)',
      ExpressionAttributeValues: { ':id': incidentId },
    });
  },

  attach: (target, incidentId, ts) =>
    conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'SET ts = :ts',
      ConditionExpression: 'incidentId = :id',
      ExpressionAttributeValues: { ':ts': ts, ':id': incidentId },
    }),

  async claimDiagnosis(target, incidentId, key) {
    const claimed = await conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'ADD diagnosed :key',
      ConditionExpression: 'incidentId = :id AND NOT contains(diagnosed, :name) AND size(diagnosed) <= :max',
      // The set holds the '-' placeholder too, hence `<=`.
      ExpressionAttributeValues: { ':key': new Set([key]), ':name': key, ':id': incidentId, ':max': MAX_DIAGNOSES },
    });
    return !!claimed;
  },

  claimRender: (target, incidentId, now, intervalMs, force = false) =>
    conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'SET renderedAt = :now',
      ConditionExpression: force ? 'incidentId = :id AND attribute_exists(ts)' : 'incidentId = :id AND attribute_exists(ts) AND renderedAt <= :due',
      ExpressionAttributeValues: { ':now': now, ':id': incidentId, ...(force ? {} : { ':due': now - intervalMs }) },
    }),

  close: (target, incidentId, now, resolution) =>
    conditional({
      TableName: tableName('state'),
      Key: { pk: incidentKey(target) },
      UpdateExpression: 'SET closedAt = :now, resolution = :resolution, renderedAt = :now',
      ConditionExpression: 'incidentId = :id AND attribute_not_exists(closedAt)',
      ExpressionAttributeValues: { ':now': now, ':resolution': resolution, ':id': incidentId },
    }),
};
