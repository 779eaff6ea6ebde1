/**
 * What the durable workflows (deploy, run) share to speak in their parent message's thread: the
 * Lambda's remaining time as a step sees it, and the thread resumed from the parent's ts for one
 * step's posts (a ThreadOutput lives no longer than the step: the next one resumes it again).
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../platform/logger';
import { ThreadOutput } from '../slack/thread-output';

/** Milliseconds the invocation has left; 2 minutes when its context cannot say (the local testing package). */
export function remainingTime(context: DurableContext): () => number {
  return () => {
    try {
      return context.lambdaContext?.getRemainingTimeInMillis?.() ?? 120_000;
    } catch {
      return 120_000;
    }
  };
}

/** The parent's thread, resumed; `parentText` (default: the one given here) is what the parent keeps when it is marked. */
export function workflowThread(opts: {
  slack: () => Promise<WebClient>;
  channel: string;
  parentTs: string;
  remainingMs: () => number;
  logger: Logger;
  parentText?: string;
}): (parentText?: string) => Promise<ThreadOutput> {
  return async (parentText = opts.parentText) =>
    ThreadOutput.resume({
      client: await opts.slack(),
      channel: opts.channel,
      parentTs: opts.parentTs,
      remainingMs: opts.remainingMs,
      logger: opts.logger,
      ...(parentText ? { parentText } : {}),
    });
}
