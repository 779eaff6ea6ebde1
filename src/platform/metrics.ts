import { logLevel } from '../config/env';

/**
 * One count as a line in CloudWatch's embedded metric format (namespace `ecs-chatops`): CloudWatch
 * Logs turns it into the metric `name` by the one dimension given, no PutMetricData call, no grant.
 */
export function countMetric(name: string, dimension: string, value: string): void {
  const line = {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [{ Namespace: 'ecs-chatops', Dimensions: [[dimension]], Metrics: [{ Name: name, Unit: 'Count' }] }],
    },
    [dimension]: value,
    [name]: 1,
  };
  if (logLevel() !== 'silent') process.stdout.write(`${JSON.stringify(line)}\n`);
}
