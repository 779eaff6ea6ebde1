/**
 * Completes the deploy workflow's approval callback (Lambda durable functions'
 * SendDurableExecutionCallbackSuccess). Called by whoever decides a request and by the workflow
 * itself when the decision came before its callback existed; the second call of the two finds the
 * callback completed, which is expected and only logged.
 */
import { completeCallback } from '../aws/lambda';
import type { Logger } from '../platform/logger';
import type { RequestStatus } from './types';

export interface ApprovalDecision {
  status: Exclude<RequestStatus, 'pending'>;
  by?: string;
}

/** What Lambda answers for a callback that is completed, timed out, or unknown (UNVERIFIED for the last). */
const GONE = new Set(['CallbackTimeoutException', 'ResourceNotFoundException', 'InvalidParameterValueException']);

export async function sendDecision(callbackId: string, decision: ApprovalDecision, logger: Logger): Promise<boolean> {
  try {
    await completeCallback(callbackId, decision);
    return true;
  } catch (error) {
    // Already completed or timed out (the workflow then reads the request itself), or gone: expected.
    // Anything else (throttling, permissions) is an error the caller must see.
    if (GONE.has((error as { name?: string }).name ?? '')) {
      logger.info('approval callback already completed', { error: (error as Error).message });
      return false;
    }
    throw error;
  }
}
