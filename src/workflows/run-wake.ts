/**
 * Waking a detached run's workflow early. Between polls the run workflow waits on a callback
 * whose timeout is the poll interval (src/workflows/run.ts); the callback id of the current wait
 * is kept on the run record (`run#<runId>`, `wakeId`), and a cancel completes it
 * (SendDurableExecutionCallbackSuccess) right after storing the cancel record, so the workflow
 * polls at once instead of at the end of the interval. The cancel record stays the source of
 * truth: the callback only wakes the workflow, and a lost wake means the cancel is seen at the
 * next poll.
 */
import { completeCallback, type LambdaProfile } from '../aws/lambda';
import { ddb, isConditionalCheckFailed } from '../platform/dynamo';
import { runKey } from '../platform/state-keys';
import { tableName } from '../platform/tables';

export interface RunWake {
  /** Keeps `callbackId` on the run record as the wait to wake; false when the record is gone. */
  arm(runId: string, callbackId: string): Promise<boolean>;
  /** Completes the wait's callback; false when it is already closed (completed or timed out) or unknown. */
  wake(callbackId: string): Promise<boolean>;
}

/** What Lambda answers for a callback that is completed, timed out, or unknown (UNVERIFIED for the last). */
const GONE = new Set(['CallbackTimeoutException', 'ResourceNotFoundException', 'InvalidParameterValueException']);

/** Completes a run workflow's wait; `ack` on the ingress's path to Slack's 3 seconds. */
export async function wakeRunWorkflow(callbackId: string, profile: LambdaProfile = 'default'): Promise<boolean> {
  try {
    await completeCallback(callbackId, { wake: 'cancel' }, profile);
    return true;
  } catch (error) {
    if (GONE.has((error as { name?: string }).name ?? '')) return false;
    throw error;
  }
}

/** The run record in the state table, updated only while it exists (the run has not ended). */
export const dynamoRunWake: RunWake = {
  async arm(runId, callbackId) {
    try {
      await ddb.update({
        TableName: tableName('state'),
        Key: { pk: runKey(runId) },
        UpdateExpression: 'SET wakeId = :id',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':id': callbackId },
      });
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  },
  wake: (callbackId) => wakeRunWorkflow(callbackId),
};
