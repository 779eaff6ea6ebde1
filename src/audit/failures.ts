import { log } from '../platform/logger';

/** CloudWatch namespace and metric the AuditWriteFailures alarm (serverless.yml) watches. */
export const METRICS_NAMESPACE = 'ecs-chatops';
export const AUDIT_FAILURE_METRIC = 'AuditWriteFailures';

/**
 * An audit record that could not be written must never go unnoticed: an error log line naming the
 * record's key (to find what is missing), and one data point of a CloudWatch metric in embedded
 * metric format (Powertools for AWS Lambda's Metrics), which an alarm watches. Powertools is
 * imported only here, on the failure path, so no cold start pays for it.
 */
// The record's key as audit.ts defines it (AuditKey), spelled out so the two modules do not import each other.
export async function reportAuditFailure(operation: 'record' | 'complete', key: { pk: string; sk: string }, error: unknown): Promise<void> {
  log.error('audit write failed', { operation, auditKey: key, error });
  try {
    const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'ecs-chatops' });
    metrics.addMetric(AUDIT_FAILURE_METRIC, MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  } catch (metricError) {
    log.error('could not emit the audit failure metric', { error: metricError });
  }
}
