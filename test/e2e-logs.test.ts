import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logsState } from '../local/aws/services/logs';
import { startWorld, type World } from '../local/world';
import { NOTIFY_LOGS_ACTION } from '../src/slack/actions';

/**
 * `/ecs logs` end to end: the worker finds the task (named, or the service's newest), reads its
 * task definition's logConfiguration and the last lines of the awslogs stream from the emulator's
 * CloudWatch Logs (GetLogEvents, paging backwards), and answers in a thread, escaped, in a code block.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const CHANNEL = 'C0OPS';
const ACCOUNT = '111111111111';
const REGION = 'us-east-1';
const regional = () => world.aws.state.region(ACCOUNT, REGION);
const cluster = () => regional().ecs.clusters.get('main')!;
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const lastThread = () => {
  const parent = parents().at(-1)!;
  return {
    parent: parent.text,
    replies: world.slack.replies(CHANNEL, parent.ts).map((r) => r.text),
  };
};

/** The running tasks of a service, newest first. */
const tasksOf = (service: string, status = 'RUNNING') =>
  [...cluster().tasks.values()]
    .filter((t) => t.group === `service:${service}` && t.lastStatus === status)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
const idOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** Replaces the lines of web's app stream for a task: `count` lines, the last one newest. */
function writeLines(taskId: string, lines: string[]): void {
  const group = logsState(regional()).get('/ecs/web')!;
  const name = `web/app/${taskId}`;
  const base = Date.parse('2026-12-05T14:00:00Z');
  group.streams.set(name, {
    logStreamName: name,
    creationTime: base,
    events: lines.map((message, i) => ({ timestamp: base + i * 1000, message, ingestionTime: base + i * 1000 + 5 })),
  });
}

describe('/ecs logs end to end', () => {
  it('shows the last 50 lines of the newest task’s app container by default, escaped, oldest first', async () => {
    const task = tasksOf('web')[0]!;
    const id = idOf(task.taskArn!);
    writeLines(id, [...Array.from({ length: 60 }, (_, i) => `line ${i + 1}`), '<!channel> & <https://evil.example|click> ```']);
    await world.slash('U0BOB', 'logs web');
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toMatch(new RegExp(`^✅ <@U0BOB> ran \`/ecs logs web\` — web: last 50 log lines of app in task ${id.slice(0, 8)}`));
    expect(replies[0]).toContain(
      `📄 Last 50 lines of \`app\` in task \`${id}\` of *web* (RUNNING, \`web:42\`), stream \`web/app/${id}\` of \`/ecs/web\` (us-east-1)`,
    );
    expect(replies[0]).toContain('|open in CloudWatch Logs>');
    const shown = replies.slice(1).join('\n');
    expect(shown).toContain('```');
    expect(shown).not.toContain('line 11\n');
    expect(shown).toContain('2026-12-05 14:00:11Z line 12\n');
    expect(shown).toContain('2026-12-05 14:00:59Z line 60\n');
    // Outside text is never Slack markup, and cannot close the code block.
    expect(shown).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(shown).not.toContain('<!channel>');
    expect(shown).not.toMatch(/click> ```/);
    const reads = world.aws.calls.filter((c) => c.service === 'logs' && c.action === 'GetLogEvents');
    expect(reads.at(-1)!.params).toMatchObject({ logGroupName: '/ecs/web', logStreamName: `web/app/${id}`, startFromHead: false, limit: 50 });
  });

  it('--task (its first 8 characters) with --lines reads that task, paging backwards until the token repeats', async () => {
    const task = tasksOf('web')[1]!;
    const id = idOf(task.taskArn!);
    writeLines(
      id,
      Array.from({ length: 150 }, (_, i) => `entry ${i + 1}`),
    );
    const before = world.aws.calls.length;
    await world.slash('U0BOB', `logs web --task ${id.slice(0, 8)} --lines 200`);
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toContain(`web: last 150 log lines of app in task ${id.slice(0, 8)}`);
    const shown = replies.slice(1).join('\n');
    expect(shown).toContain('entry 1\n');
    expect(shown).toContain('entry 150\n');
    // First page: the newest 150 (all); the backward token then comes back unchanged at the stream's start.
    const reads = world.aws.calls.slice(before).filter((c) => c.action === 'GetLogEvents');
    expect(reads.length).toBe(2);
    expect(reads[1]!.params.nextToken).toBeDefined();
  });

  it('200 long lines go to the thread as a file when they do not fit', async () => {
    const id = idOf(tasksOf('web')[0]!.taskArn!);
    writeLines(
      id,
      Array.from({ length: 250 }, (_, i) => `${'x'.repeat(300)} ${i + 1}`),
    );
    await world.slash('U0BOB', 'logs web --lines 200');
    await world.idle();
    const { parent } = lastThread();
    expect(parent).toContain('last 200 log lines of app');
    const files = world.slack.workspace.files ?? [];
    expect(files.length).toBeGreaterThan(0);
    const content = files.at(-1)!.content.toString('utf8');
    expect(content).toContain(`${'x'.repeat(300)} 51\n`);
    expect(content).toContain(`${'x'.repeat(300)} 250`);
    expect(content).not.toContain(`${'x'.repeat(300)} 50\n`);
  });

  it('a task without lines yet: says the stream is empty or missing, not an error', async () => {
    const id = idOf(tasksOf('web')[0]!.taskArn!);
    logsState(regional()).get('/ecs/web')!.streams.delete(`web/app/${id}`);
    await world.slash('U0BOB', `logs web --task ${id}`);
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toMatch(/^✅ .* — web: no log lines yet in task/);
    expect(replies[0]).toContain(`📄 No log lines yet for \`app\` in task \`${id}\``);
    expect(replies[0]).toContain('is empty or does not exist yet');
  });

  it('the newest task may be a stopped one; --container picks another container', async () => {
    const newest = [...tasksOf('broken', 'STOPPED'), ...tasksOf('broken')].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0]!;
    expect(newest.lastStatus).toBe('STOPPED'); // broken's latest tasks failed to start
    await world.slash('U0BOB', 'logs broken');
    await world.idle();
    expect(lastThread().replies[0]).toContain(`\`app\` in task \`${idOf(newest.taskArn!)}\` of *broken* (STOPPED`);
    const id = idOf(tasksOf('web')[0]!.taskArn!);
    await world.slash('U0BOB', 'logs web --container log-router');
    await world.idle();
    expect(lastThread().replies[0]).toContain(`\`log-router\` in task \`${id}\` of *web* (RUNNING`);
    expect(lastThread().replies[0]).toContain(`stream \`firelens/log-router/${id}\``);
  });

  it('a task of another service, or a container the task does not have: a clear answer, nothing read', async () => {
    const managerTask = idOf(tasksOf('manager')[0]!.taskArn!);
    const before = world.aws.calls.length;
    await world.slash('U0BOB', `logs web --task ${managerTask}`);
    await world.idle();
    expect(lastThread().replies[0]).toContain(`No task \`${managerTask}\` of \`web\` in cluster \`main\``);
    expect(world.aws.calls.slice(before).some((c) => c.action === 'GetLogEvents')).toBe(false);
    await world.slash('U0BOB', 'logs web --container sidecar');
    await world.idle();
    expect(lastThread().replies[0]).toContain('has no container `sidecar`: it has `app`, `log-router`');
  });

  it('another log driver: says where the logs are instead of failing', async () => {
    const record = regional().ecs.taskDefinitions.get('web:42')!;
    const original = record.taskDefinition.containerDefinitions!;
    const firelens: ContainerDefinition = { ...original[0]!, logConfiguration: { logDriver: 'awsfirelens', options: { Name: 'datadog' } } };
    record.taskDefinition.containerDefinitions = [firelens, ...original.slice(1)];
    try {
      await world.slash('U0BOB', 'logs web');
      await world.idle();
    } finally {
      record.taskDefinition.containerDefinitions = original;
    }
    const { parent, replies } = lastThread();
    expect(parent).toMatch(/^⚠️ .* — web: app logs with awsfirelens, not readable here/);
    expect(replies[0]).toContain(
      'The app container logs with awsfirelens; its logs are not in CloudWatch Logs where I can find them: see your FireLens output (datadog).',
    );
  });

  it('the Logs button under a notification shows the task it names', async () => {
    const id = idOf(tasksOf('web')[1]!.taskArn!);
    writeLines(id, ['from the button']);
    await world.click('U0BOB', CHANNEL, '1700000000.000300', { action_id: NOTIFY_LOGS_ACTION, value: `web ${id}` });
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toMatch(new RegExp(`^✅ <@U0BOB> ran \`/ecs logs web --task ${id}\``));
    expect(replies.join('\n')).toContain('from the button');
  });

  it('is refused to someone without a role on the service', async () => {
    const res = await world.slash('U0MALLORY', 'logs web');
    expect(JSON.parse(res.body).text).toContain('Not allowed: you are not on the allowlist');
  });
});
