/**
 * Requests waiting for approval (deploys, scripts declared requiresApproval) in the state table. Each change is one conditional update, so Slack's
 * retried events, two approvers reacting in the same second and the workflow expiring a request
 * all race safely: whoever moves the request out of `pending` is the only one who acts on it.
 */
import { conditionalUpdate, ddb } from '../platform/dynamo';
import { dynamoState } from '../platform/state';
import { tableName } from '../platform/tables';
import type { ApprovalRequest, RequestStatus } from './types';

export interface ApprovalRequests {
  /** Stores a new request; false if one already exists for that message. */
  create(request: ApprovalRequest, ttlSeconds: number): Promise<boolean>;
  get(key: string): Promise<ApprovalRequest | undefined>;
  /** Adds an approval while the request is pending and unexpired; the request after it, or undefined when nothing changed. */
  approve(key: string, userId: string, now: number): Promise<ApprovalRequest | undefined>;
  /** Removes an approval while pending; the request after it, or undefined when nothing changed. */
  withdraw(key: string, userId: string): Promise<ApprovalRequest | undefined>;
  /**
   * Moves a pending request to a final status. For `approved`, only when it holds `required`
   * approvals. Exactly one caller gets the request back; everyone else gets undefined.
   */
  decide(key: string, status: Exclude<RequestStatus, 'pending'>, by: string, now: number, required?: number): Promise<ApprovalRequest | undefined>;
  /** Records the workflow's callback id; returns the request as it is now (it may already be decided). */
  attachCallback(key: string, callbackId: string): Promise<ApprovalRequest | undefined>;
  /** Records that the decision reached the workflow. */
  markNotified(key: string): Promise<void>;
  /** Forgets the request (the deploy could not be started). */
  remove(key: string): Promise<void>;
}

/** A state-table item as a request: DynamoDB's string set of approvals becomes a sorted list. */
export const fromItem = (item: Record<string, unknown> | undefined): ApprovalRequest | undefined => {
  if (!item) return undefined;
  const approvals = item.approvals instanceof Set ? [...(item.approvals as Set<string>)].sort() : (item.approvals as string[] | undefined);
  return { ...(item as unknown as ApprovalRequest), ...(approvals ? { approvals } : {}) };
};

/** One conditional update of a request; the request after it, or undefined when the condition did not hold. */
async function update(
  key: string,
  change: { set: string; when: string; values: Record<string, unknown>; names?: Record<string, string> },
): Promise<ApprovalRequest | undefined> {
  return fromItem(
    await conditionalUpdate({
      TableName: tableName('state'),
      Key: { pk: key },
      UpdateExpression: change.set,
      ConditionExpression: change.when,
      ...(change.names ? { ExpressionAttributeNames: change.names } : {}),
      ExpressionAttributeValues: change.values,
    }),
  );
}

const STATUS = { '#status': 'status' };

export const dynamoApprovalRequests: ApprovalRequests = {
  create(request, ttlSeconds) {
    const { approvals: _none, pk, ...item } = request;
    return dynamoState.claim(pk, ttlSeconds, item);
  },
  async get(key) {
    const out = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
    return ['deploy', 'run', 'gate'].includes(String(out.Item?.kind)) ? fromItem(out.Item) : undefined;
  },
  approve(key, userId, now) {
    return update(key, {
      set: 'ADD approvals :user',
      // A second ✅ from the same person (a re-added reaction) changes nothing and says nothing.
      when: '#status = :pending AND #rule.deadline > :now AND NOT contains(approvals, :id)',
      names: { ...STATUS, '#rule': 'rule' },
      values: { ':user': new Set([userId]), ':id': userId, ':pending': 'pending', ':now': now },
    });
  },
  withdraw(key, userId) {
    return update(key, {
      set: 'DELETE approvals :user',
      when: '#status = :pending AND contains(approvals, :id)',
      names: STATUS,
      values: { ':user': new Set([userId]), ':id': userId, ':pending': 'pending' },
    });
  },
  decide(key, status, by, now, required) {
    const enough = status === 'approved' ? ' AND size(approvals) >= :required' : '';
    return update(key, {
      set: 'SET #status = :status, decidedBy = :by, decidedAt = :now',
      when: `#status = :pending${enough}`,
      names: STATUS,
      values: { ':status': status, ':by': by, ':now': now, ':pending': 'pending', ...(enough ? { ':required': required ?? 1 } : {}) },
    });
  },
  attachCallback(key, callbackId) {
    return update(key, { set: 'SET callbackId = :id', when: 'attribute_exists(pk)', values: { ':id': callbackId } });
  },
  async markNotified(key) {
    await update(key, { set: 'SET notified = :true', when: 'attribute_exists(pk)', values: { ':true': true } });
  },
  async remove(key) {
    await ddb.delete({ TableName: tableName('state'), Key: { pk: key } });
  },
};
