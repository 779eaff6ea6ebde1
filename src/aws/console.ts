/**
 * Deep links into the AWS console, built from ARNs: the region, the account and the partition come
 * from the ARN itself, so a target in another account, region or partition (China, GovCloud) links
 * to its own console. The links are plain URLs; `slackLink` makes them Slack mrkdwn.
 */
import { escapeText } from '../slack/format';

/** The parts of an ARN: `arn:partition:service:region:account:resource`. */
export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition, service, region, account] = parts as [string, string, string, string, string];
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

/**
 * The console's host for a region: each partition has its own console domain. The standard
 * partition has regional hosts (`us-east-1.console.aws.amazon.com`), the others one host per
 * partition with the region in the query.
 */
export function consoleOrigin(partition: string, region: string): string {
  switch (partition) {
    case 'aws-cn':
      return 'https://console.amazonaws.cn';
    case 'aws-us-gov':
      return 'https://console.amazonaws-us-gov.com';
    default:
      return `https://${region}.console.aws.amazon.com`;
  }
}

const segment = (text: string) => encodeURIComponent(text);

/** ECS console: the service's page (health and deployments). `serviceArn`: `arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`. */
export function serviceUrl(serviceArn: string): string | undefined {
  const arn = parseArn(serviceArn);
  const [kind, cluster, service] = arn?.resource.split('/') ?? [];
  if (!arn || kind !== 'service' || !cluster || !service) return undefined;
  return `${consoleOrigin(arn.partition, arn.region)}/ecs/v2/clusters/${segment(cluster)}/services/${segment(service)}/health?region=${arn.region}`;
}

/**
 * ECS console: the service's deployments, where ECS lists each deployment (by its `ecs-svc/…` id)
 * with its state and tasks. The console has no stable page per deployment id, so the link opens the
 * list with the id in the label.
 */
export function deploymentsUrl(serviceArn: string): string | undefined {
  const service = serviceUrl(serviceArn);
  return service?.replace(/\/health\?/, '/deployments?');
}

/** ECS console: one task (stopped ones stay visible for about an hour). `taskArn`: `arn:aws:ecs:<region>:<account>:task/<cluster>/<taskId>`. */
export function taskUrl(taskArn: string): string | undefined {
  const arn = parseArn(taskArn);
  const [kind, cluster, taskId] = arn?.resource.split('/') ?? [];
  if (!arn || kind !== 'task' || !cluster || !taskId) return undefined;
  return `${consoleOrigin(arn.partition, arn.region)}/ecs/v2/clusters/${segment(cluster)}/tasks/${segment(taskId)}/configuration?region=${arn.region}`;
}

/** A container's awslogs settings (task definition `logConfiguration`). */
export interface AwsLogsSettings {
  logDriver?: string;
  options?: Record<string, string | undefined>;
}

/** CloudWatch's console escapes path parts twice and writes `%` as `$` in its fragment. */
const logsFragment = (text: string) => encodeURIComponent(encodeURIComponent(text)).replace(/%/g, '$');

/**
 * CloudWatch Logs console: the log stream of one container of one task. With the awslogs driver the
 * stream is `<awslogs-stream-prefix>/<container name>/<task id>` in `awslogs-group`, in
 * `awslogs-region` (the task's region when unset). Undefined without a prefix (the stream is then
 * named by the Docker container id, which the console cannot guess) or another log driver.
 */
export function logStreamUrl(taskArn: string, container: string, logs: AwsLogsSettings | undefined): string | undefined {
  const arn = parseArn(taskArn);
  const taskId = arn?.resource.split('/').at(-1);
  const group = logs?.options?.['awslogs-group'];
  const prefix = logs?.options?.['awslogs-stream-prefix'];
  if (!arn || !taskId || logs?.logDriver !== 'awslogs' || !group || !prefix) return undefined;
  const region = logs.options?.['awslogs-region'] || arn.region;
  const stream = `${prefix}/${container}/${taskId}`;
  return `${consoleOrigin(arn.partition, region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${logsFragment(group)}/log-events/${logsFragment(stream)}`;
}

/**
 * `<url|label>` for Slack mrkdwn. Inside the angle brackets Slack reads `&`, `<` and `>` as markup
 * and `|` as the label's start: the URL gets them escaped (`&amp;` …, `|` percent-encoded), the
 * label is escaped text. Undefined URL: the label alone.
 */
export function slackLink(url: string | undefined, label: string): string {
  if (!url) return escapeText(label);
  return `<${escapeText(url).replace(/\|/g, '%7C')}|${escapeText(label).replace(/\|/g, '¦')}>`;
}
