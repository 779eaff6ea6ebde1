import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { AwsSession } from '../src/aws/session';
import { lastLogLines, logsLocation } from '../src/ecs/container-logs';

const TASK = 'arn:aws:ecs:us-east-1:111111111111:task/main/0123456789abcdef0123456789abcdef';
const app = (logConfiguration?: ContainerDefinition['logConfiguration']): ContainerDefinition => ({
  name: 'app',
  ...(logConfiguration ? { logConfiguration } : {}),
});

describe('logsLocation: where a container logs, from its logConfiguration', () => {
  it('awslogs with a prefix: <prefix>/<container>/<task id> in its group and region, else the default region', () => {
    expect(
      logsLocation(
        app({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web', 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'web' } }),
        TASK,
        'us-east-1',
      ),
    ).toEqual({
      kind: 'awslogs',
      region: 'eu-west-1',
      group: '/ecs/web',
      stream: 'web/app/0123456789abcdef0123456789abcdef',
      container: 'app',
    });
    const oldArn = 'arn:aws:ecs:us-east-1:111111111111:task/0123456789abcdef0123456789abcdef';
    expect(logsLocation(app({ logDriver: 'awslogs', options: { 'awslogs-group': 'g', 'awslogs-stream-prefix': 'p' } }), oldArn, 'us-east-1')).toMatchObject({
      region: 'us-east-1',
      stream: 'p/app/0123456789abcdef0123456789abcdef',
    });
  });

  it('awslogs without a prefix or a group: the stream cannot be derived, and it says why', () => {
    const noPrefix = logsLocation(app({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web' } }), TASK, 'us-east-1');
    expect(noPrefix).toMatchObject({ kind: 'elsewhere', driver: 'awslogs', container: 'app' });
    expect(noPrefix.kind === 'elsewhere' && noPrefix.explanation).toContain(
      'without awslogs-stream-prefix: its streams are named by Docker container ids, so the stream of a task cannot be derived',
    );
    const noGroup = logsLocation(app({ logDriver: 'awslogs', options: {} }), TASK, 'us-east-1');
    expect(noGroup.kind === 'elsewhere' && noGroup.explanation).toContain('without an awslogs-group');
  });

  it('FireLens, Splunk, no configuration: where the logs are instead', () => {
    const explain = (c: ContainerDefinition) => {
      const where = logsLocation(c, TASK, 'us-east-1');
      if (where.kind !== 'elsewhere') throw new Error('expected elsewhere');
      return [where.driver, where.explanation];
    };
    expect(explain(app({ logDriver: 'awsfirelens', options: { Name: 'datadog' } }))).toEqual([
      'awsfirelens',
      'The app container logs with awsfirelens; its logs are not in CloudWatch Logs where I can find them: see your FireLens output (datadog).',
    ]);
    expect(explain(app({ logDriver: 'awsfirelens', options: { Name: 'cloudwatch_logs', log_group_name: '/firelens/web', region: 'us-west-2' } }))[1]).toBe(
      "The app container logs with awsfirelens (Fluent Bit output cloudwatch_logs): its lines go to log group /firelens/web in us-west-2, in streams FireLens names, so I cannot tell which stream is this task's.",
    );
    expect(explain(app({ logDriver: 'splunk', options: { 'splunk-url': 'https://splunk.example' } }))).toEqual([
      'splunk',
      'The app container logs with the splunk driver; its logs are not in CloudWatch Logs: look where splunk sends them.',
    ]);
    expect(explain(app())[0]).toBe('none');
  });
});

/** A session whose Logs client answers GetLogEvents from a script of pages, recording the requests. */
function scripted(pages: Array<{ events: Array<{ timestamp: number; message: string }>; nextBackwardToken?: string } | Error>) {
  const requests: Array<Record<string, unknown>> = [];
  const session = {
    client: () => ({
      send: async (command: { input: Record<string, unknown> }) => {
        requests.push(command.input);
        const page = pages.shift();
        if (!page) throw new Error('no more pages scripted');
        if (page instanceof Error) throw page;
        return page;
      },
    }),
  } as unknown as AwsSession;
  return { session, requests };
}
const WHERE = { kind: 'awslogs', region: 'us-east-1', group: '/ecs/web', stream: 'web/app/0123', container: 'app' } as const;
const line = (n: number) => ({ timestamp: n, message: `line ${n}` });

describe('lastLogLines: GetLogEvents from the end, backwards', () => {
  it('walks past an empty page while older events exist, stops when the token repeats, oldest first', async () => {
    const { session, requests } = scripted([
      { events: [line(8), line(9)], nextBackwardToken: 'b/3' },
      { events: [], nextBackwardToken: 'b/2' }, // empty, yet more before it
      { events: [line(1), line(2)], nextBackwardToken: 'b/1' },
      { events: [], nextBackwardToken: 'b/1' }, // the start: the token comes back unchanged
    ]);
    expect(await lastLogLines(session, WHERE, 10)).toEqual([line(1), line(2), line(8), line(9)]);
    expect(requests.map((r) => r.nextToken)).toEqual([undefined, 'b/3', 'b/2', 'b/1']);
    expect(requests[0]).toEqual({ logGroupName: '/ecs/web', logStreamName: 'web/app/0123', startFromHead: false, limit: 10 });
    expect(requests.map((r) => r.limit)).toEqual([10, 8, 8, 6]);
  });

  it('stops as soon as it has `limit` lines, and keeps the newest', async () => {
    const { session, requests } = scripted([
      { events: [line(5), line(6)], nextBackwardToken: 'b/2' },
      { events: [line(3), line(4)], nextBackwardToken: 'b/1' },
    ]);
    expect(await lastLogLines(session, WHERE, 3)).toEqual([line(4), line(5), line(6)]);
    expect(requests).toHaveLength(2);
  });

  it('no stream (yet): no lines; any other error is the caller’s to explain', async () => {
    const missing = Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' });
    expect(await lastLogLines(scripted([missing]).session, WHERE, 20)).toEqual([]);
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    await expect(lastLogLines(scripted([denied]).session, WHERE, 20)).rejects.toThrow('not authorized');
  });
});
