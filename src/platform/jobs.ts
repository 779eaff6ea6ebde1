import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { AuditKey } from '../audit/audit';
import type { Invocation } from '../slack/invocation';
import { requiredEnv } from '../config/env';

/** A slash command (or a button that re-runs one) for the worker to carry out. */
export interface CommandJob {
  kind: 'command';
  id: string;
  /** As Slack sent it; its text is for the audit and the thread, never parsed again. */
  invocation: Invocation;
  /** The verb's name, and its arguments as the ingress parsed them (that verb's `Args`, as JSON). */
  verb: string;
  args: unknown;
  audit: AuditKey;
  receivedAt: number;
}

/** A reaction on a message the bot tracks (a pending approval), delivered once per event_id. */
export interface ReactionJob {
  kind: 'reaction';
  id: string;
  eventId: string;
  teamId: string;
  userId: string;
  reaction: string;
  added: boolean;
  channelId: string;
  messageTs: string;
  /** State-table key of the tracked message. */
  trackedKey: string;
  receivedAt: number;
}

export type Job = CommandJob | ReactionJob;

export interface JobDispatcher {
  dispatch(job: Job): Promise<void>;
}

let lambda: LambdaClient | undefined;

/** Hands a job to the worker Lambda asynchronously (InvocationType Event): the ack never waits on ECS. */
export const lambdaDispatcher: JobDispatcher = {
  async dispatch(job) {
    const functionName = requiredEnv('WORKER_FUNCTION_NAME');
    // Loaded on first hand-off: help, whoami and untracked events never need it.
    const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda');
    lambda ??= new LambdaClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(job)) }),
    );
    if (out.StatusCode !== 202) throw new Error(`worker invocation returned status ${out.StatusCode}`);
  },
};
