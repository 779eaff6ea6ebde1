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

/** Sets web's app stream of a task to these lines, `secondsAgo` before now (real time: the worker's clock). */
function writeRecent(taskId: string, lines: Array<[secondsAgo: number, message: string]>): void {
  const group = logsState(regional()).get('/ecs/web')!;
  const name = `web/app/${taskId}`;
  const now = Date.now();
  group.streams.set(name, {
    logStreamName: name,
    creationTime: now - 3_600_000,
    events: lines.map(([ago, message]) => ({ timestamp: now - ago * 1000, message, ingestionTime: now - ago * 1000 + 5 })),
  });
}

describe('/ecs logs over a window, across the service’s tasks', () => {
  const filterCalls = (from: number) => world.aws.calls.slice(from).filter((c) => c.action === 'FilterLogEvents');

  it('--since: every task’s lines of the window, newest last, each with its short task id', async () => {
    const [a, b] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(a!, [
      [1500, 'too old to show'],
      [300, 'a: request served'],
      [100, 'a: <!here> & ```'],
    ]);
    writeRecent(b!, [[200, 'b: request served']]);
    const before = world.aws.calls.length;
    await world.slash('U0BOB', 'logs web --since 10m');
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toMatch(/^✅ <@U0BOB> ran `\/ecs logs web --since 10m` — web: 3 log lines of app in the last 10 min/);
    expect(replies[0]).toContain('📄 3 lines from `app` in all tasks of *web* (`web:42`) in the last 10 min, in `/ecs/web` (us-east-1), newest last:');
    const shown = replies.slice(1).join('\n');
    expect(shown).not.toContain('too old');
    const order = ['a: request served', 'b: request served', 'a: &lt;!here&gt; &amp;'].map((l) => shown.indexOf(l));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    expect(shown).toMatch(new RegExp(`Z ${a!.slice(0, 8)} a: request served`));
    expect(shown).toMatch(new RegExp(`Z ${b!.slice(0, 8)} b: request served`));
    expect(shown).not.toContain('<!here>');
    const [call] = filterCalls(before);
    expect(call!.params).toMatchObject({ logGroupName: '/ecs/web', logStreamNamePrefix: 'web/app/' });
    expect(call!.params.endTime - call!.params.startTime).toBe(600_000);
    expect(call!.params).not.toHaveProperty('filterPattern');
  });

  it('--grep: only the matching lines (15 minutes by default), the text sent as one quoted term', async () => {
    const [a, b] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(a!, [
      [600, 'INFO all good'],
      [500, 'ERROR payment declined'],
      [400, 'ERROR -x ?y literal'],
    ]);
    writeRecent(b!, [[450, 'WARN close to ERROR']]);
    const before = world.aws.calls.length;
    await world.slash('U0BOB', 'logs web --grep ERROR');
    await world.idle();
    const shown = lastThread().replies.slice(1).join('\n');
    expect(shown).toContain('ERROR payment declined');
    expect(shown).toContain('WARN close to ERROR');
    expect(shown).not.toContain('INFO all good');
    expect(filterCalls(before)[0]!.params).toMatchObject({ filterPattern: '"ERROR"', logStreamNamePrefix: 'web/app/' });
    expect(filterCalls(before)[0]!.params.endTime - filterCalls(before)[0]!.params.startTime).toBe(900_000);
    // Pattern syntax in the text stays literal.
    await world.slash('U0BOB', "logs web --grep '-x ?y'");
    await world.idle();
    const literal = lastThread().replies.slice(1).join('\n');
    expect(literal).toContain('ERROR -x ?y literal');
    expect(literal).not.toContain('payment');
  });

  it('--task with --since reads that task’s stream only', async () => {
    const [a, b] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(a!, [[60, 'from a']]);
    writeRecent(b!, [[60, 'from b']]);
    const before = world.aws.calls.length;
    await world.slash('U0BOB', `logs web --since 5m --task ${b!.slice(0, 8)}`);
    await world.idle();
    const { replies } = lastThread();
    expect(replies[0]).toContain(`\`app\` in task \`${b}\` of *web*`);
    expect(replies.join('\n')).toContain('from b');
    expect(replies.join('\n')).not.toContain('from a');
    expect(filterCalls(before)[0]!.params).toMatchObject({ logStreamNames: [`web/app/${b}`] });
  });

  it('a long window: the last lines in the thread, the whole window attached; pages read to the end', async () => {
    const [a, b] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(
      a!,
      Array.from({ length: 12_000 }, (_, i): [number, string] => [1200 - i * 0.05, `a line ${i + 1}`]),
    );
    writeRecent(
      b!,
      Array.from({ length: 3000 }, (_, i): [number, string] => [1100 - i * 0.2, `b line ${i + 1}`]),
    );
    const before = world.aws.calls.length;
    await world.slash('U0BOB', 'logs web --since 30m');
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toContain('web: 15000 log lines of app in the last 30 min');
    expect(replies[0]).toContain('the last 50 below, all of them attached');
    expect(filterCalls(before).length).toBeGreaterThan(1);
    const file = world.slack.workspace.files!.at(-1)!.content.toString('utf8');
    const lines = file.trimEnd().split('\n');
    expect(lines).toHaveLength(15_000);
    expect(lines.filter((l) => l.endsWith(' a line 1'))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/ b line 3000$/);
    expect(lines.filter((l) => / a line 12000$/.test(l))).toHaveLength(1);
  });

  it('throttled reads back off and go on: every line once', async () => {
    const [a] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(
      a!,
      Array.from({ length: 40 }, (_, i): [number, string] => [400 - i, `t line ${i + 1}`]),
    );
    world.aws.faults.throttle('logs:FilterLogEvents', 4);
    const before = world.aws.calls.length;
    await world.slash('U0BOB', `logs web --since 10m --task ${a}`);
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toContain('web: 40 log lines of app');
    const shown = replies.slice(1).join('\n');
    for (let i = 1; i <= 40; i++) expect(shown.split(`t line ${i}\n`).length - 1, `line ${i}`).toBe(1);
    expect(filterCalls(before).filter((c) => c.status === 400).length).toBe(4);
  });

  it('another log driver: the window says where the logs are; an empty window says so', async () => {
    const record = regional().ecs.taskDefinitions.get('web:42')!;
    const original = record.taskDefinition.containerDefinitions!;
    record.taskDefinition.containerDefinitions = [{ ...original[0]!, logConfiguration: { logDriver: 'splunk', options: {} } }, ...original.slice(1)];
    const before = world.aws.calls.length;
    try {
      await world.slash('U0BOB', 'logs web --since 5m');
      await world.idle();
    } finally {
      record.taskDefinition.containerDefinitions = original;
    }
    const { parent, replies } = lastThread();
    expect(parent).toMatch(/^⚠️ .* — web: app logs with splunk, not readable here/);
    expect(replies[0]).toContain('The app container logs with the splunk driver; its logs are not in CloudWatch Logs: look where splunk sends them.');
    expect(filterCalls(before)).toHaveLength(0);
    await world.slash('U0BOB', 'logs web --grep nothing-matches-this');
    await world.idle();
    expect(lastThread().replies[0]).toBe(
      '📄 No lines from `app` in all tasks of *web* (`web:42`) in the last 15 min matching `nothing-matches-this`, in `/ecs/web` (us-east-1).',
    );
  });

  it('bad --since or --grep: a usage answer, nothing read', async () => {
    const before = world.aws.calls.length;
    for (const [command, message] of [
      ['logs web --since 8d', '`--since` is a duration up to 7d'],
      ['logs web --since soon', '`--since` is a duration up to 7d'],
      [`logs web --grep 'say "hi"'`, 'double quotes and backslashes are not accepted'],
    ] as const) {
      const res = await world.slash('U0BOB', command);
      expect(JSON.parse(res.body).text, command).toContain(message);
    }
    await world.idle();
    expect(filterCalls(before)).toHaveLength(0);
  });
});

describe('/ecs logs --follow', () => {
  /** Appends lines to a task's web/app stream, `secondsAgo` before now. */
  function append(taskId: string, lines: Array<[secondsAgo: number, message: string]>): void {
    const stream = logsState(regional()).get('/ecs/web')!.streams.get(`web/app/${taskId}`)!;
    const now = Date.now();
    stream.events.push(...lines.map(([ago, message]) => ({ timestamp: now - ago * 1000, message, ingestionTime: now })));
  }
  const threadText = (ts: string) =>
    world.slack
      .replies(CHANNEL, ts)
      .map((r) => r.text)
      .join('\n');

  it('tails new lines into one living message (late ones too, none twice), stopped by /ecs cancel of its starter, the whole follow attached', async () => {
    const [a] = tasksOf('web').map((t) => idOf(t.taskArn!));
    writeRecent(a!, [[30, 'before the follow']]);
    const started = world.slash('U0ALICE', `logs web --task ${a} --follow 5m`);
    const parent = await world.slack.waitFor(() => parents().find((m) => m.text.includes('/ecs logs web --task') && m.text.includes('--follow 5m')), 10_000);
    const living = await world.slack.waitFor(() => world.slack.replies(CHANNEL, parent.ts).find((r) => r.text.startsWith('👀 Following')), 10_000);
    const runId = /run `([a-z0-9]+)`/.exec(living.text)![1]!;
    expect(threadText(parent.ts)).toContain('before the follow');
    append(a!, [[0, 'new line one']]);
    await world.slack.waitFor(() => threadText(parent.ts).includes('new line one'), 10_000);
    // Written after line one but stamped before it (ingested late): still shown, once.
    append(a!, [
      [5, 'late line'],
      [0, 'new line two'],
    ]);
    await world.slack.waitFor(() => threadText(parent.ts).includes('new line two'), 10_000);
    // bob (viewer) may follow but not cancel: the cancel verb needs `run`.
    const refused = await world.slash('U0BOB', `cancel ${runId}`);
    expect(JSON.parse(refused.body).text).toContain('you need the `operator` role');
    const asked = await world.slash('U0ALICE', `cancel ${runId}`);
    expect(JSON.parse(asked.body).text).toContain(`🛑 Stopping \`/ecs logs web --follow\` (run \`${runId}\``);
    await started;
    await world.idle();
    const end = parents().find((m) => m.ts === parent.ts)!;
    expect(end.text).toMatch(/^🚫 .* — web: followed app \(run [a-z0-9]+\), 3 new lines, cancelled/);
    const text = threadText(parent.ts);
    expect(text).toContain('🚫 Stopped following');
    expect(text).toContain('cancelled by <@U0ALICE>');
    const file = world.slack.workspace.files
      .filter((f) => f.threadTs === parent.ts)
      .at(-1)!
      .content.toString('utf8');
    for (const line of ['before the follow', 'new line one', 'late line', 'new line two']) expect(file.split(line).length - 1, line).toBe(1);
    // The run record and the cancel are gone.
    const { dynamoState } = await import('../src/platform/state');
    expect(await dynamoState.get(`run#${runId}`)).toBeUndefined();
    expect(await dynamoState.get(`cancel#${runId}`)).toBeUndefined();
  });

  it('a viewer stops the follow they started (/ecs cancel, which the Cancel button sends too), though they may not cancel anyone else’s', async () => {
    const started = world.slash('U0BOB', 'logs web --follow 5m');
    const parent = await world.slack.waitFor(() => parents().find((m) => m.text.includes('<@U0BOB>') && m.text.includes('--follow 5m')), 10_000);
    const living = await world.slack.waitFor(() => world.slack.replies(CHANNEL, parent.ts).find((r) => r.text.startsWith('👀 Following')), 10_000);
    const runId = /run `([a-z0-9]+)`/.exec(living.text)![1]!;
    const asked = await world.slash('U0BOB', `cancel ${runId}`);
    expect(JSON.parse(asked.body).text).toContain(`🛑 Stopping \`/ecs logs web --follow\` (run \`${runId}\``);
    await started;
    await world.idle();
    expect(parents().find((m) => m.ts === parent.ts)!.text).toMatch(/^🚫 .* — web: followed app \(run [a-z0-9]+\), \d+ new lines?, cancelled/);
    expect(threadText(parent.ts)).toContain('cancelled by <@U0BOB>');
  });

  it('ends by itself after its duration (a viewer may follow); --follow beyond 15 minutes is refused', async () => {
    const res = await world.slash('U0BOB', 'logs web --follow 16m');
    expect(JSON.parse(res.body).text).toContain('`--follow` is a duration from 10s to 15m');
    await world.slash('U0BOB', 'logs web --grep ERROR --follow 10s');
    await world.idle();
    const { parent, replies } = lastThread();
    expect(parent).toMatch(/^✅ .* — web: followed app \(run [a-z0-9]+\), \d+ new lines?, done/);
    expect(replies.join('\n')).toMatch(/⏹️ Followed `app` in all tasks of \*web\* .* for 1\d s\./);
  });
});
