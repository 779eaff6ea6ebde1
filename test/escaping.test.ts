/**
 * One escaping discipline for Slack mrkdwn: text from outside the bot (AWS messages and names,
 * ECS events and stop reasons, script output, configuration descriptions, placeholders of usage
 * strings) reaches Slack escaped exactly once, so Slack shows it as written and acts on no markup
 * in it. Each source is fed hostile text and the result is read the way Slack reads it.
 */
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { WebClient } from '@slack/web-api';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer } from '../local/slack/server';
import { startWorld, type World } from '../local/world';
import { explainAwsError } from '../src/aws/errors';
import type { AwsSession } from '../src/aws/session';
import { helpVerb } from '../src/commands/registry';
import { endReport } from '../src/exec/run-report';
import { explainExecError } from '../src/exec/target';
import { describeScriptArgs } from '../src/commands/script-args';
import { scripts } from '../src/commands/scripts';
import { readServiceSnapshot, renderStatus } from '../src/commands/status';
import type { AckContext } from '../src/commands/types';
import { parseConfig, type Config, type Target } from '../src/config/schema';
import { checkImage } from '../src/deploy/image-check';
import { planDeploy } from '../src/deploy/plan';
import { requestHeadline } from '../src/deploy/render';
import { observeRollout, readStoppedTasks, startProgress } from '../src/deploy/watch';
import { withImage } from '../src/ecs/taskdef';
import { checkArguments } from '../src/exec/command';
import { OutputCleaner } from '../src/exec/output';
import type { UserFacingError } from '../src/platform/errors';
import { createSlackClient } from '../src/slack/client';
import { breakFences, code, typedCode, escapeText } from '../src/slack/format';
import { ThreadOutput } from '../src/slack/thread-output';
import { classifyDefaultRoute, networkChecks } from '../src/verify/checks/network';
import type { VerifyContext } from '../src/verify/context';
import { describeCheckError } from '../src/verify/errors';
import { renderProblems, renderProgress, renderRest, renderSummary, renderTree, resultLine } from '../src/verify/render';
import type { CheckOutcome, CheckResult } from '../src/verify/types';

/** What a hostile AWS message, ECS event or script line may hold; `&amp;` is typed literally. */
const PIECES = ['<!channel>', '<!here>', '<@U0ALICE>', '<https://evil.example|click>', '&amp;'];
const EVIL = PIECES.join(' ');

/** How Slack reads mrkdwn: `<…>` is markup it acts on (mentions, links), entities are decoded in what it shows. */
function slackReads(text: string): { markup: string[]; shown: string } {
  const markup = text.match(/<[^<>]*>/g) ?? [];
  const shown = text
    .replace(/<[^<>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  return { markup, shown };
}

/**
 * Slack acts on no markup but the bot's own (`allowed`), and shows each piece as written: escaped
 * exactly once (not escaped, a piece would be markup; escaped twice, Slack would show `&lt;`).
 */
function expectShownAsWritten(text: string, pieces: string[] = PIECES, allowed: string[] = []): void {
  const { markup, shown } = slackReads(text);
  expect(markup, text).toEqual(allowed);
  for (const piece of pieces) {
    expect(shown, text).toContain(piece);
    expect(shown, text).not.toContain(escapeText(piece));
  }
}

const ecsMock = mockClient(ECSClient);
const ecrMock = mockClient(ECRClient);
const session = {
  ecs: () => new ECSClient({ region: 'us-east-1' }),
  client: (C: typeof ECRClient, region?: string) => new C({ region: region ?? 'us-east-1' }),
} as unknown as AwsSession;
/** For the describes that stub AWS (the end-to-end one restores the real clients). */
const resetMocks = () => {
  ecsMock.reset();
  ecrMock.reset();
};

describe('format helpers', () => {
  it('code() escapes once and keeps the span closed whatever the text holds', () => {
    expect(code('a<b>&amp;')).toBe('`a&lt;b&gt;&amp;amp;`');
    expect(code('x` <!here> `y')).toBe('`xˋ &lt;!here&gt; ˋy`');
  });
  it('typedCode() shows what a person typed inertly: mentions, broadcasts and links as plain words', () => {
    // As Slack sends them (should_escape: true): markup for @, # and links; entities for the rest.
    expect(typedCode('/ecs allow <@U0BOB|bob> viewer web')).toBe('`/ecs allow @bob viewer web`');
    expect(typedCode('/ecs status <!channel> <!here> <!subteam^S1|@oncall>')).toBe('`/ecs status @channel @here @oncall`');
    expect(typedCode('/ecs allow U1 viewer --channels <#C0OPS|ops>')).toBe('`/ecs allow U1 viewer --channels #ops`');
    expect(typedCode('/ecs run x <https://evil.example|click> <https://a.example>')).toBe('`/ecs run x click (https://evil.example) https://a.example`');
    // A typed `<`, `&` or backtick: shown as typed, exactly once escaped, the span held.
    expect(typedCode('/ecs run x &lt;b&gt; &amp;amp; `y`')).toBe('`/ecs run x &lt;b&gt; &amp;amp; ˋyˋ`');
  });
  it('breakFences() leaves no run of three backticks, and changes nothing the second time', () => {
    for (const run of ['```', '````', '``````', '```````````']) {
      const broken = breakFences(`a${run}b`);
      expect(broken).not.toContain('```');
      expect(broken.replaceAll('\u200b', '')).toBe(`a${run}b`);
      expect(breakFences(broken)).toBe(broken);
    }
  });
});

describe('AWS errors', () => {
  it('escapes the message, the error name and the request id', () => {
    const error = Object.assign(new Error(EVIL), { name: 'InvalidParameterException', $metadata: { requestId: '<!here>' } });
    const text = explainAwsError(error, 'reading service `web`').userMessage;
    expectShownAsWritten(text);
    expect(text).toContain('AWS returned InvalidParameterException while reading service `web`');
    expectShownAsWritten(explainAwsError(Object.assign(new Error('nope'), { name: '<!channel>' }), 'reading').userMessage, ['<!channel>']);
    expectShownAsWritten(explainAwsError(Object.assign(new Error(EVIL), { name: 'ExpiredToken<!here>' }), 'reading').userMessage, ['<!here>']);
  });
  it('escapes the resource an access denial names, and the whole message when it names no action', () => {
    const denied = Object.assign(
      new Error('User: arn:aws:sts::1:assumed-role/bot is not authorized to perform: ecs:DescribeServices on resource: <!channel> because no policy allows it'),
      { name: 'AccessDeniedException' },
    );
    const text = explainAwsError(denied, 'reading').userMessage;
    expectShownAsWritten(text, ['<!channel>']);
    expect(text).toContain('may not call `ecs:DescribeServices` on `&lt;!channel&gt;`');
    expectShownAsWritten(explainAwsError(Object.assign(new Error(EVIL), { name: 'AccessDenied' }), 'reading').userMessage);
  });
});

describe('/ecs status', () => {
  afterEach(resetMocks);
  const target = { alias: 'web', region: 'us-east-1', cluster: 'main', service: 'web' };
  it('escapes what ECS says: events, rollout and stop reasons, names, images, failures', async () => {
    const service: Service = {
      serviceName: 'web<!here>',
      clusterArn: 'arn:aws:ecs:us-east-1:1:cluster/main',
      desiredCount: 2,
      runningCount: 1,
      taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/web:42',
      deployments: [{ status: 'PRIMARY', rolloutState: 'FAILED', rolloutStateReason: EVIL, taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/web:42' }],
      events: [{ createdAt: new Date(), message: EVIL }],
    };
    const { sections } = renderStatus('web', {
      service,
      taskDefinition: { containerDefinitions: [{ name: 'app<@U0ALICE>', image: 'registry/web:<!channel>' }] },
      stoppedTasks: [
        {
          taskArn: 'arn:aws:ecs:us-east-1:1:task/main/abc',
          stoppedReason: EVIL,
          stopCode: '<!here>' as never,
          containers: [{ name: '<!channel>', exitCode: 1, reason: EVIL }],
        },
      ],
    });
    const all = sections.join('\n');
    expectShownAsWritten(all);
    expect(all).toContain('`app&lt;@U0ALICE&gt;`: `registry/web:&lt;!channel&gt;`');
  });
  it('escapes the reason ECS gives for a missing service', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: EVIL }] });
    const error = (await readServiceSnapshot({ aws: session, target }).catch((e: unknown) => e)) as UserFacingError;
    expectShownAsWritten(error.userMessage);
  });
});

describe('deploys', () => {
  afterEach(resetMocks);
  const td = (name: string) => `arn:aws:ecs:us-east-1:111111111111:task-definition/${name}`;
  it('watch lines and verdicts escape task definition names, deployment ids, events, rollout and stop reasons', async () => {
    const since = Date.parse('2026-01-01T12:00:00Z');
    const failed: Service = {
      status: 'ACTIVE',
      desiredCount: 2,
      deployments: [
        { id: 'ecs-svc/1', status: 'PRIMARY', rolloutState: 'FAILED', rolloutStateReason: EVIL, taskDefinition: td('<!here>:43'), createdAt: new Date(since) },
      ],
      events: [{ id: 'e1', createdAt: new Date(since + 1000), message: EVIL }],
    };
    const seen = observeRollout(failed, startProgress('ecs-svc/1', td('<!here>:43'), since));
    expect(seen.lines).toHaveLength(2);
    expectShownAsWritten(seen.lines[0]!, ['<!here>']);
    expectShownAsWritten(seen.lines[1]!);
    expect(seen.verdict.state).toBe('failed');
    expectShownAsWritten((seen.verdict as { reason: string }).reason);

    // Someone else's deployment replaced the watched one (gone from the service by now).
    const replaced: Service = { status: 'ACTIVE', deployments: [{ id: 'ecs-svc/<!channel>', status: 'PRIMARY', taskDefinition: td('<@U0ALICE>:44') }] };
    const superseded = observeRollout(replaced, startProgress('ecs-svc/&amp;', td('web:43'), since)).verdict as { reason: string };
    expectShownAsWritten(superseded.reason, ['<!channel>', '<@U0ALICE>', '&amp;']);

    // Stopped tasks: the line escaped, the reason kept as AWS wrote it (escaped where it is quoted).
    ecsMock.on(ListTasksCommand).resolves({ taskArns: ['arn:aws:ecs:us-east-1:1:task/main/0123456789abcdef'] });
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: 'arn:aws:ecs:us-east-1:1:task/main/0123456789abcdef',
          taskDefinitionArn: td('web:43'),
          stoppedReason: EVIL,
          containers: [{ name: 'app', exitCode: 1, reason: '<!here> &amp;' }],
        },
      ],
    });
    const stopped = await readStoppedTasks(new ECSClient({ region: 'us-east-1' }), 'main', 'web', startProgress('ecs-svc/1', td('web:43'), 0));
    expectShownAsWritten(stopped.lines[0]!);
    expect(stopped.progress.stopReasons[0]).toContain('<!channel>');
  });
  it('image notes, the headline and planning errors escape names and images from task definitions', async () => {
    const current: TaskDefinition = {
      taskDefinitionArn: td('web:42'),
      status: 'ACTIVE',
      containerDefinitions: [
        { name: 'app', image: 'registry/web:<!channel>' },
        { name: '<!here>', image: 'side' },
      ],
    };
    const older: TaskDefinition = {
      taskDefinitionArn: td('web:41'),
      status: 'ACTIVE',
      containerDefinitions: [
        { name: 'app', image: 'registry/web:<@U0ALICE>' },
        { name: '&amp;', image: '<https://evil.example|click>' },
      ],
    };
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [{ status: 'ACTIVE', taskDefinition: td('web:42'), deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }] });
    ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: td('web:42') }).resolves({ taskDefinition: current });
    ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: 'web:41' }).resolves({ taskDefinition: older });
    const target = { alias: 'web', region: 'us-east-1', cluster: 'main', service: 'web' } as { alias: string } & Target;
    const { plan } = await planDeploy(session, target, { action: 'rollback', revision: '41' });
    expectShownAsWritten(plan.imageNotes.join('\n'));

    const headline = requestHeadline({ requesterId: 'U0BOB', target: 'web', deployId: 'abc123', plan: { ...plan, currentTaskDefinition: td('<!channel>:1') } });
    expectShownAsWritten(headline, ['<!channel>'], ['<@U0BOB>']);

    ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: 'web:40' }).rejects(Object.assign(new Error(EVIL), { name: 'ServerException' }));
    const error = (await planDeploy(session, target, { action: 'rollback', revision: '40' }).catch((e: unknown) => e)) as UserFacingError;
    expectShownAsWritten(error.userMessage);
  });
  it('a deploy of an image the task definition cannot take names its containers escaped', () => {
    const error = (() => {
      try {
        withImage({ containerDefinitions: [{ name: '<!here>', image: 'registry/web:<!channel>' }] }, 'other/repo:2');
      } catch (e) {
        return e as UserFacingError;
      }
    })()!;
    expectShownAsWritten(error.userMessage, ['<!here>', '<!channel>']);
  });
  it('image checks escape what ECR and the image reference parser say', async () => {
    ecrMock.on(DescribeImagesCommand).rejects(Object.assign(new Error(EVIL), { name: 'ServerException' }));
    const unchecked = await checkImage(session, '111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1');
    expect(unchecked.status).toBe('unchecked');
    expectShownAsWritten(unchecked.note);
    const bad = await checkImage(session, 'web:<!channel> &amp;');
    expect(bad.status).toBe('missing');
    expectShownAsWritten(bad.note, ['<!channel>', '&amp;']);
  });
});

describe('script output in a thread', () => {
  let server: SlackServer;
  let client: WebClient;
  beforeAll(async () => {
    server = await startSlackServer();
    process.env.SLACK_API_URL = server.url;
    client = createSlackClient('xoxb-test');
  });
  afterAll(async () => {
    delete process.env.SLACK_API_URL;
    await server.close();
  });
  const start = () => ThreadOutput.start({ client, channel: 'C0OPS', remainingMs: () => 600_000, parentText: '<@U0ALICE> ran `/ecs run echo.sh`' });

  it('the cleaner keeps output as the program wrote it; the live log escapes it once and holds its code block', async () => {
    const cleaner = new OutputCleaner();
    const lines = cleaner.push(new TextEncoder().encode(`${EVIL}\r\n\`\`\`\r\n\`\`\`\`\`\` <!here>\r\nend \`\`\`\`\r\n`));
    expect(lines[0]).toBe(EVIL);
    const out = await start();
    out.write(`${lines.join('\n')}\n`);
    await out.finish({ outcome: 'success', summary: 'done' });
    const [live] = server.replies('C0OPS', out.parentTs);
    expect(live!.text.split('```')).toHaveLength(3); // one block: its own two fences and no other
    expect(live!.text.startsWith('```\n') && live!.text.endsWith('\n```')).toBe(true);
    expectShownAsWritten(live!.text.replaceAll('\u200b', '').replaceAll('```', ''));

    // A fence arriving in pieces over several writes cannot close the block either.
    const pieces = await start();
    for (const piece of ['a `', '``', '```', '` b\n']) pieces.write(piece);
    await pieces.finish({ outcome: 'success', summary: 'done' });
    expect(server.replies('C0OPS', pieces.parentTs)[0]!.text.split('```')).toHaveLength(3);
  });
});

describe('script runs', () => {
  it('the end of a run: the label as typed in code, escaped in the summary for the parent', () => {
    const label = 'echo.sh <!channel> <@U0ALICE> &amp;';
    for (const exit of [0, 3, undefined]) {
      const end = endReport(label, exit, '1 s', '12 B of output');
      expectShownAsWritten(end.text, exit === undefined ? [] : ['<!channel>', '<@U0ALICE>', '&amp;']);
      expectShownAsWritten(end.summary, ['<!channel>', '<@U0ALICE>', '&amp;']);
    }
  });
  it('ECS refusing an exec session: its message escaped', () => {
    const error = explainExecError(Object.assign(new Error(`The execute command failed: ${EVIL}`), { name: 'InvalidParameterException' }), 'manager')!;
    expectShownAsWritten(error.userMessage);
  });
  it('a wrong number of arguments names the placeholders escaped', () => {
    const [problem] = checkArguments({ args: [{ name: 'label', pattern: '[a-z]+' }] }, []);
    expectShownAsWritten(problem!.message, ['<label>']);
  });
});

describe('/ecs verify', () => {
  const ctx = { region: 'us-east-1', target: { cluster: 'main', service: 'web' } } as unknown as VerifyContext;
  const result = (outcome: CheckOutcome, title = 'Network'): CheckResult => ({
    ...outcome,
    id: 'x',
    family: 'network',
    title,
    group: ['Network'],
    durationMs: 1,
    order: 0,
  });
  const slackOutput = (r: CheckResult) => [renderTree([r], 'slack'), renderSummary([r], 'slack')];

  it('placeholders in fixes (`<subnet-id>`) reach Slack as text, and the terminal as written', async () => {
    const [check] = networkChecks({ ctx, taskDefinition: { networkMode: 'awsvpc' }, service: {} });
    const r = result(await check!.run(ctx));
    expect(r.fix).toContain('subnets=[<subnet-id>],securityGroups=[<sg-id>]');
    for (const text of slackOutput(r)) expectShownAsWritten(text, ['<subnet-id>', '<sg-id>']);
    expect(renderTree([r], 'plain')).toContain('subnets=[<subnet-id>],securityGroups=[<sg-id>]');
  });
  it('what AWS returned (route targets, error messages) is escaped once, also in titles and groups', () => {
    const via = classifyDefaultRoute({ State: 'blackhole', GatewayId: '<!channel>' }, false).via;
    for (const text of slackOutput(result({ status: 'FAIL', message: via, fix: EVIL }))) expectShownAsWritten(text);
    for (const text of slackOutput({
      ...result(describeCheckError(Object.assign(new Error(EVIL), { name: 'ServerException' })), 'Image `<!here>`'),
      group: ['Container <@U0ALICE>'],
    })) {
      expectShownAsWritten(text);
    }
  });
  it('the progress message, the problems and the tree of the rest escape what AWS returned once', () => {
    const r = { ...result({ status: 'OK', message: EVIL }, `Image ${EVIL}`), group: [`Container ${EVIL}`] };
    expectShownAsWritten(renderProgress('Verifying', [r], 1));
    expectShownAsWritten(renderRest([r]));
    expectShownAsWritten(renderProblems([{ ...r, status: 'FAIL', fix: EVIL }], 'slack'));
  });
  it('a UserFacingError (already Slack text) is not escaped a second time', () => {
    let error: unknown;
    try {
      withImage({ containerDefinitions: [{ name: '<!here>', image: 'registry/web:&amp;' }] }, 'other/repo:2');
    } catch (e) {
      error = e;
    }
    const r = result(describeCheckError(error));
    for (const text of slackOutput(r)) expectShownAsWritten(text, ['<!here>', '&amp;']);
    expect(resultLine(r, 'plain')).toContain('<!here> → registry/web:&amp;');
  });
});

describe('help and configuration text', () => {
  it('help: the placeholders of a command’s details', async () => {
    const answer = await helpVerb.answer({ verb: 'run' }, {} as AckContext);
    expectShownAsWritten(answer.text!, ['<run-id>', '<script>']);
  });
  it('scripts: descriptions from the configuration', async () => {
    const config = parseConfig({
      slack: { teams: ['T0LOCAL'] },
      targets: { manager: { region: 'us-east-1', cluster: 'main', service: 'manager', manager: { container: 'app' } } },
      scripts: {
        'echo.sh': { description: EVIL, target: 'manager', path: '/work/echo.sh', args: [{ name: 'label', pattern: '.+', description: '<!here> &amp;' }] },
      },
    });
    const entry = {
      teamId: 'T0LOCAL',
      userId: 'U0ALICE',
      grants: [{ role: 'admin' as const, services: ['*'] }],
      addedBy: 'U0ROOT',
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    const answer = await scripts({}, { config, entry, invocation: { channelId: 'C0OPS' } } as unknown as AckContext);
    expectShownAsWritten(answer.text!, [...PIECES, '<label>']);
    expectShownAsWritten(describeScriptArgs(config.scripts['echo.sh']!).join('\n'), ['<!here>', '&amp;']);
  });
});

describe('end to end through the local world', () => {
  let world: World;
  let setConfig: (config: Config | undefined) => void;
  beforeAll(async () => {
    // The unit tests above stub every ECS and ECR client; the world's bot calls the emulator.
    ecsMock.restore();
    ecrMock.restore();
    world = await startWorld({ durableSkipTime: true });
    const load = await import('../src/config/load');
    setConfig = load.setConfig;
    const base = load.getConfig();
    // A script that prints its arguments, each between markers: its output is what was typed.
    setConfig(
      parseConfig({
        ...base,
        scripts: {
          ...base.scripts,
          'echo-args.sh': { target: 'manager', path: '/work/echo-args.sh', args: [{ name: 'text', pattern: '.+' }], timeoutSeconds: 60 },
        },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    setConfig?.(undefined);
    await world?.close();
  });

  const CHANNEL = 'C0OPS';
  const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  const replies = (ts: string) => world.slack.replies(CHANNEL, ts).map((r) => r.text);

  it('an AWS error carrying markup: the thread and the parent show it as text', async () => {
    const lift = world.aws.faults.fail('ecs:DescribeServices', { code: 'InvalidParameterException', message: EVIL }, 1);
    try {
      await world.slash('U0ALICE', 'status web');
      await world.idle();
    } finally {
      lift();
    }
    const parent = parents().at(-1)!;
    expect(parent.text).toMatch(/^❌ <@U0ALICE> ran `\/ecs status web` — AWS returned InvalidParameterException while reading service/);
    expectShownAsWritten(parent.text, PIECES, ['<@U0ALICE>']);
    const thread = replies(parent.ts).join('\n');
    expect(thread).toContain('❌ AWS returned InvalidParameterException');
    expectShownAsWritten(thread);
  });

  it('script output and arguments carrying markup and fences: the live log holds its block, the end and the parent show them as text', async () => {
    // As Slack sends what was typed: &, < and > escaped.
    const typed = escapeText(`${EVIL} \`\`\`\`\`\` end`);
    await world.slash('U0ALICE', `run echo-args.sh "${typed}"`);
    await world.idle();
    const parent = parents().at(-1)!;
    expect(parent.text, replies(parent.ts).join('\n')).toMatch(/^✅ <@U0ALICE> ran `\/ecs run echo-args.sh .*— echo-args.sh .*: exit 0 in/);
    // The parent repeats the command as Slack sent it (already escaped) and the summary (escaped here).
    expectShownAsWritten(parent.text.replaceAll('`', ''), PIECES, ['<@U0ALICE>']);
    const thread = replies(parent.ts);
    // The run's living message: a header line, then the output's code block.
    const [header, ...block] = thread.find((t) => t.startsWith('⏹️'))!.split('\n');
    const live = block.join('\n');
    expect(live).toContain('&lt;&lt;&lt;arg 1&gt;&gt;&gt;&lt;!channel&gt;');
    expect(live.split('```')).toHaveLength(3);
    expectShownAsWritten(live.replaceAll('\u200b', '').replaceAll('```', ''));
    for (const line of [header!, ...thread.filter((t) => t.startsWith('✅'))]) expectShownAsWritten(line);
  });

  it('a deploy stopped by an AWS error carrying markup: the parent names it as text', async () => {
    const before = new Set(parents().map((m) => m.ts));
    await world.slash('U0ALICE', 'deploy web v1.5.0');
    const request = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && m.text.includes('React :white_check_mark: to approve')), 20_000);
    const lift = world.aws.faults.fail('ecs:UpdateService', { code: 'ServerException', message: EVIL, status: 500 });
    try {
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await world.slack.waitFor(() => {
        const text = world.slack.message(CHANNEL, request.ts)?.text ?? '';
        return text.startsWith('❌') ? text : undefined;
      }, 60_000);
      expect(end).toContain('the deploy stopped');
      expectShownAsWritten(end, PIECES, ['<@U0ALICE>', '<@U0BOB>']);
      // No mention in the thread: who approved is on the parent (the deploy never got to its rollout message).
      expectShownAsWritten(replies(request.ts).join('\n'), PIECES, []);
    } finally {
      lift();
    }
  }, 90_000);

  it('what a person typed is echoed inertly: a typed @channel, mention or link never comes back live', async () => {
    const refused = (JSON.parse((await world.slash('U0MALLORY', 'status <!channel> <https://evil.example|click>')).body) as { text: string }).text;
    expect(refused).toContain('`/ecs status @channel click (https://evil.example)`');
    expect(refused).not.toMatch(/<!channel>|<https:/);
    const working = (JSON.parse((await world.slash('U0ALICE', 'run echo-args.sh <!here>')).body) as { text: string }).text;
    expect(working).toContain('`/ecs run echo-args.sh @here`');
    await world.idle();
    const parent = parents()
      .filter((m) => m.text.includes('echo-args.sh @here'))
      .at(-1)!;
    expect(parent.text).toContain('<@U0ALICE> ran `/ecs run echo-args.sh @here`');
    expect(parent.text).not.toContain('<!here>');
  }, 30_000);
});
