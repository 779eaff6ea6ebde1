import type { AuditKey } from '../audit/audit';
import { invokeAsync } from '../aws/lambda';
import type { Invocation } from '../slack/invocation';
import { requiredEnv } from '../config/env';

/** A slash command (or a button that re-runs one) for the worker to carry out. */
export interface CommandJob {
  kind: 'command';
  id: string;
  /** As Slack sent it; its text is for the audit and the thread, never parsed again. */
  invocation: Invocation;
  /**
   * The verb's name, and its arguments as the ingress parsed them (that verb's `Args`, as JSON).
   * Absent from a job queued by an ingress of before they were carried (see worker `requestOf`).
   */
  verb?: string;
  args?: unknown;
  audit: AuditKey;
  receivedAt: number;
  /**
   * The ingress answered a slash command with a "⏳ Working on" note: the worker withdraws it
   * (or puts what went wrong in its place) once it knows. Not for clicks: a click's response_url
   * "original" is the message with the button.
   */
  ackNote?: true;
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

/** The job for a parsed and authorised request, whichever door it came in by (Slack, the signed API). */
export const commandJob = (
  id: string,
  invocation: Invocation,
  request: { verb: { name: string }; args: unknown },
  audit: AuditKey,
  receivedAt: number,
): CommandJob => ({ kind: 'command', id, invocation, verb: request.verb.name, args: request.args, audit, receivedAt });

export interface JobDispatcher {
  dispatch(job: Job): Promise<void>;
}

/** Hands a job to the worker Lambda asynchronously (InvocationType Event): the ack never waits on ECS. */
export const lambdaDispatcher: JobDispatcher = {
  async dispatch(job) {
    const functionName = requiredEnv('WORKER_FUNCTION_NAME');
    await invokeAsync(functionName, job, 'worker', 'ack');
  },
};
