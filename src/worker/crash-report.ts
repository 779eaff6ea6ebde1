import type { WebClient } from '@slack/web-api';
import { IN_FLIGHT, type AuditKey, type AuditLog, type AuditRecord } from '../audit/audit';
import { tokenize } from '../commands/grammar';
import { commandText, requesterText } from '../slack/invocation';
import type { SlackMessage } from '../slack/message';
import type { Job } from '../platform/jobs';
import type { Logger } from '../platform/logger';
import type { SlackSecrets } from '../platform/secrets';
import { escapeText, typedCode } from '../slack/format';
import { ThreadOutput } from '../slack/thread-output';

/**
 * What Lambda sends the worker's on-failure destination when an asynchronous invocation failed
 * (AWS Lambda developer guide, "invocation record"): the job, and why its invocation ended.
 */
export interface FailedInvocation {
  timestamp?: string;
  requestContext?: { requestId?: string; condition?: string; approximateInvokeCount?: number };
  requestPayload?: unknown;
  responsePayload?: { errorType?: string; errorMessage?: string } | null;
}

export interface CrashReportDeps {
  secrets: () => Promise<SlackSecrets>;
  slack: (token: string) => WebClient;
  readAudit: (key: AuditKey) => Promise<AuditRecord | undefined>;
  audit: () => AuditLog;
  respond: (responseUrl: string, message: SlackMessage) => Promise<void>;
  logger: Logger;
}

/** Why the worker stopped, in plain words, from the invocation record. */
export function whyItStopped(failure: FailedInvocation): string {
  const { errorType = '', errorMessage = '' } = failure.responsePayload ?? {};
  if (failure.requestContext?.condition === 'EventAgeExceeded')
    return 'AWS Lambda could not start the worker in time (it was throttled or busy), so it never ran';
  if (/Task timed out after ([\d.]+) seconds/.test(errorMessage))
    return `the worker reached its time limit (${/after ([\d.]+) seconds/.exec(errorMessage)![1]} s) and was stopped`;
  if (errorType === 'Runtime.ExitError' || /Runtime exited/.test(errorMessage)) {
    return /signal: killed/.test(errorMessage)
      ? 'the worker was killed (most often: it ran out of memory)'
      : `the worker's runtime exited (${escapeText(errorMessage)})`;
  }
  if (errorType === 'Runtime.OutOfMemory' || /out of memory/i.test(errorMessage)) return 'the worker ran out of memory';
  return `the worker failed with an error it did not handle (${escapeText(errorType || 'Error')}: ${escapeText(errorMessage.slice(0, 300))})`;
}

/**
 * Reads a failed worker invocation (the on-failure destination) and makes sure nobody is left
 * waiting: the thread and its parent say the bot stopped, why, and what to check; the audit record
 * is completed as an error. A job whose audit record already ended (the worker finished and died
 * after) is left alone; delivered twice, the second delivery finds it ended.
 */
export function createCrashReporter(deps: CrashReportDeps) {
  return async function report(failure: FailedInvocation): Promise<void> {
    const job = failure.requestPayload as Job | undefined;
    const why = whyItStopped(failure);
    const requestId = failure.requestContext?.requestId ?? 'unknown';
    const logger = deps.logger.child({ requestId, jobKind: job?.kind });
    logger.error('the worker stopped without finishing', { why, condition: failure.requestContext?.condition, error: failure.responsePayload });
    if (!job || job.kind !== 'command') return; // a reaction: the next reaction repairs an interrupted approval (src/approval/approve.ts)

    const record = await deps.readAudit(job.audit);
    if (record && !IN_FLIGHT.includes(record.outcome)) {
      logger.info('the attempt had ended before the worker stopped; nothing to report', { outcome: record.outcome });
      return;
    }
    const { invocation } = job;
    const typed = typedCode(commandText(invocation));
    const check = failure.requestContext?.condition === 'EventAgeExceeded' ? 'Nothing ran; try again in a minute.' : checkAfterCrash(invocation.text, job.verb);
    const { botToken } = await deps.secrets();
    const slack = deps.slack(botToken);
    const threadTs = record?.threadTs;
    if (threadTs) {
      const out = ThreadOutput.resume({
        client: slack,
        channel: invocation.channelId,
        parentTs: threadTs,
        parentText: `${requesterText(invocation)} ran ${typed}`,
        remainingMs: () => 60_000,
        logger,
      });
      await out.post(
        `💥 The bot stopped while running this: ${why}.\n${check}\nAWS request id \`${escapeText(requestId)}\` (the worker's logs have the details).`,
      );
      await out.finish({ outcome: 'failure', summary: 'the bot stopped while running this' });
    } else {
      // It died before it could post: tell the person where they asked.
      const text = `💥 The bot stopped before it could answer ${typed}: ${why}.\n${check}`;
      const told = invocation.responseUrl
        ? await deps.respond(invocation.responseUrl, { text }).then(
            () => true,
            () => false,
          )
        : false;
      if (!told) await slack.chat.postEphemeral({ channel: invocation.channelId, user: invocation.userId, text });
    }
    await deps
      .audit()
      .complete(job.audit, { outcome: 'error', reason: `the worker stopped: ${why}`, ...(threadTs ? { threadTs } : {}) }, { outcome: IN_FLIGHT });
  };
}

/** What to look at before trying again: what the command may have left half done. */
export function checkAfterCrash(text: string, verbName?: string): string {
  // The verb the job names; else as the registry would read the text (`Deploy`, `"run"`: no alias
  // names a verb that leaves anything behind), falling back to the raw words for text it refuses.
  const words = safely(() => tokenize(text)) ?? text.trim().split(/\s+/);
  const verb = verbName ?? words[0]?.toLowerCase();
  const service = words[1];
  switch (verb) {
    case 'deploy':
    case 'rollback':
      return `It may have got as far as asking for approval, or further: look at \`/ecs status ${escapeText(service ?? '<service>')}\` before you ask again.`;
    case 'run':
      return 'The script may have started in the container and may still be running: look at the container (or wait for its lock to expire) before you run it again.';
    case 'allow':
    case 'deny':
      return '`/ecs allowlist` shows whether the change was stored.';
    default:
      return 'It changed nothing; try again in a minute.';
  }
}

function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
