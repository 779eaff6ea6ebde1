import { dynamoAudit, readAuditRecord } from '../audit/audit';
import { getConfig } from '../config/load';
import { log } from '../platform/logger';
import { respondViaUrl } from '../platform/respond';
import { getSlackSecrets } from '../platform/secrets';
import { createSlackClient } from '../slack/client';
import { createCrashReporter, type FailedInvocation } from '../worker/crash-report';

/**
 * Reads the worker's failure queue (its on-failure destination, through an SQS event source):
 * every invocation record there is a job whose worker stopped without finishing.
 */
const report = createCrashReporter({
  secrets: getSlackSecrets,
  slack: createSlackClient,
  readAudit: readAuditRecord,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  respond: respondViaUrl,
  logger: log,
});

interface SqsEvent {
  Records: Array<{ messageId: string; body: string }>;
}

/** Failed records are returned to the queue (partial batch response), the others are done. */
export async function handler(event: SqsEvent): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> {
  const batchItemFailures: Array<{ itemIdentifier: string }> = [];
  for (const record of event.Records) {
    try {
      await report(JSON.parse(record.body) as FailedInvocation);
    } catch (error) {
      log.error('could not report a stopped worker; the message goes back to the queue', { messageId: record.messageId, error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
