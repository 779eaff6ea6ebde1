/**
 * AWS console deep links (src/aws/console.ts) and where the deploy thread shows them
 * (src/deploy/rollout-text.ts): built from real ARN shapes, in the ARN's own region, account and
 * partition, and safe inside Slack's `<url|label>` syntax.
 */
import { describe, expect, it } from 'vitest';
import { consoleOrigin, deploymentsUrl, logStreamUrl, parseArn, serviceUrl, slackLink, taskUrl } from '../src/aws/console';
import { rolloutLinks, stoppedTaskLines } from '../src/deploy/rollout-text';

const SERVICE = 'arn:aws:ecs:eu-west-1:222222222222:service/prod-cluster/web';
const TASK = 'arn:aws:ecs:eu-west-1:222222222222:task/prod-cluster/0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const AWSLOGS = { logDriver: 'awslogs' as const, options: { 'awslogs-group': '/ecs/web', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'web' } };

describe('console links', () => {
  it('reads the partition, region and account from an ARN', () => {
    expect(parseArn(SERVICE)).toEqual({ partition: 'aws', service: 'ecs', region: 'eu-west-1', account: '222222222222', resource: 'service/prod-cluster/web' });
    expect(parseArn('web')).toBeUndefined();
  });

  it('links the service, its deployments and a task in the ARN’s region', () => {
    expect(serviceUrl(SERVICE)).toBe('https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod-cluster/services/web/health?region=eu-west-1');
    expect(deploymentsUrl(SERVICE)).toBe('https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod-cluster/services/web/deployments?region=eu-west-1');
    expect(taskUrl(TASK)).toBe(
      'https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod-cluster/tasks/0f1e2d3c4b5a69788796a5b4c3d2e1f0/configuration?region=eu-west-1',
    );
    // An old-format task ARN (no cluster in it) or another resource: no link rather than a wrong one.
    expect(taskUrl('arn:aws:ecs:us-east-1:111111111111:task/0f1e2d3c4b5a69788796a5b4c3d2e1f0')).toBeUndefined();
    expect(serviceUrl(TASK)).toBeUndefined();
  });

  it('uses each partition’s own console: China and GovCloud', () => {
    expect(consoleOrigin('aws', 'ap-south-1')).toBe('https://ap-south-1.console.aws.amazon.com');
    expect(serviceUrl('arn:aws-cn:ecs:cn-north-1:333333333333:service/main/web')).toBe(
      'https://console.amazonaws.cn/ecs/v2/clusters/main/services/web/health?region=cn-north-1',
    );
    expect(taskUrl('arn:aws-us-gov:ecs:us-gov-west-1:444444444444:task/main/abc')).toBe(
      'https://console.amazonaws-us-gov.com/ecs/v2/clusters/main/tasks/abc/configuration?region=us-gov-west-1',
    );
  });

  it('links a container’s log stream: prefix/container/task id in the awslogs group, in the awslogs region', () => {
    expect(logStreamUrl(TASK, 'app', AWSLOGS)).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fweb/log-events/web$252Fapp$252F0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    );
    // Logs shipped to another region are linked there.
    expect(logStreamUrl(TASK, 'app', { ...AWSLOGS, options: { ...AWSLOGS.options, 'awslogs-region': 'us-west-2' } })).toMatch(
      /^https:\/\/us-west-2\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-west-2#/,
    );
    // Without a stream prefix the stream is named after the Docker container id: nothing to link.
    expect(logStreamUrl(TASK, 'app', { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web' } })).toBeUndefined();
    expect(logStreamUrl(TASK, 'app', { logDriver: 'json-file' })).toBeUndefined();
    expect(logStreamUrl(TASK, 'app', undefined)).toBeUndefined();
  });

  it('writes links Slack reads as one link: & < > escaped, | encoded, the label escaped', () => {
    expect(slackLink('https://x.example/a?b=1&c=<2>|3', 'a & <b>|c')).toBe('<https://x.example/a?b=1&amp;c=&lt;2&gt;%7C3|a &amp; &lt;b&gt;¦c>');
    expect(slackLink(undefined, 'task <x>')).toBe('task &lt;x&gt;');
  });
});

describe('links in the deploy thread', () => {
  it('the rollout message links the service and its deployments', () => {
    expect(rolloutLinks({ serviceArn: SERVICE, deploymentId: 'ecs-svc/1234567890' }, 'web')).toBe(
      `<${serviceUrl(SERVICE)}|service web> · <${deploymentsUrl(SERVICE)}|deployment ecs-svc/1234567890>`,
    );
    expect(rolloutLinks({ deploymentId: 'ecs-svc/1' }, 'web')).toBe('');
  });

  it('the failure reply links each stopped task and the log stream of each container that failed', () => {
    const lines = stoppedTaskLines(
      [{ taskArn: TASK, reason: 'Essential container in task exited (container `app` exited with code 1) <oops>', containers: ['app', 'sidecar'] }],
      [
        { name: 'app', logConfiguration: AWSLOGS },
        { name: 'sidecar', logConfiguration: { logDriver: 'json-file' } },
      ],
    );
    expect(lines).toEqual([
      `• <${taskUrl(TASK)}|task 0f1e2d3c4b5a> (<${logStreamUrl(TASK, 'app', AWSLOGS)}|app logs>): Essential container in task exited (container \`app\` exited with code 1) &lt;oops&gt;`,
    ]);
  });
});
