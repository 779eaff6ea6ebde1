import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main as verifyCli } from '../scripts/verify';
import type { SeededFleet } from '../local/aws/seed-fleet';
import { RUN_WORKFLOW_FUNCTION, startWorld, WORKER_FUNCTION, type World } from '../local/world';
import { dynamoAudit, readAuditRecord } from '../src/audit/audit';
import type { Config } from '../src/config/schema';
import type { CommandJob } from '../src/platform/jobs';
import { teamAudit } from './support/channel';

/**
 * Fleet commands end to end (issue 19): `/ecs verify env=prod` and `/ecs status <selector>` over a
 * small seeded fleet (3 accounts: one without the target role, one with a service whose image is
 * gone), through the production ingress and worker, the run workflow's function (the durable map
 * over accounts) and every account's target role. The services are declared with labels and the
 * role of their account (the catalog of declared targets).
 */
let world: World;
let fleet: SeededFleet;
let setConfig: (config: Config | undefined) => void;
const CHANNEL = 'C0OPS';

beforeAll(async () => {
  world = await startWorld();
  const load = await import('../src/config/load');
  setConfig = load.setConfig;
  const base = load.getConfig();
  fleet = world.seedFleet({ accounts: 3, regions: ['us-east-1'], servicesPerAccount: 2, broken: 2 });
  const targets: Config['targets'] = { ...base.targets };
  for (const s of fleet.services)
    targets[s.alias] = {
      ...base.targets.web!,
      region: s.region,
      cluster: s.cluster,
      service: s.service,
      roleArn: `arn:aws:iam::${s.accountId}:role/${fleet.roleName}`,
      labels: { env: 'prod', team: s.tags.team ?? 'none' },
    };
  setConfig({ ...base, targets });
});
afterAll(async () => {
  setConfig?.(undefined);
  await world?.close();
});

const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const outcome = (ts: string) =>
  world.slack.waitFor(() => {
    const text = world.slack.message(CHANNEL, ts)?.text ?? '';
    return /^(✅|❌|⚠️)/.test(text) ? text : undefined;
  }, 60_000);

async function fleetCommand(text: string) {
  const before = parents().length;
  const callsBefore = world.slack.calls.length;
  await world.slash('U0ALICE', text, CHANNEL);
  const parent = await world.slack.waitFor(() => parents()[before], 20_000);
  const marked = await outcome(parent.ts);
  await world.idle();
  const replies = world.slack.replies(CHANNEL, parent.ts);
  const writes = world.slack.calls.slice(callsBefore).filter((c) => /^(chat\.(postMessage|update)|files\.)/.test(c.method));
  return { parent, marked, replies, writes, newParents: parents().length - before };
}

describe('/ecs verify <selector>', () => {
  it('answers in one thread: the summary worst first, each account’s failure a result, the whole result as CSV and JSON', async () => {
    const { marked, replies, writes, newParents } = await fleetCommand('verify env=prod');
    expect(newParents).toBe(1);
    expect(marked).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify env=prod`/);
    const [missing] = fleet.missingRole;
    const failing = fleet.services.find((s) => fleet.failingServices.includes(s.serviceArn))!;
    const summary = replies.find((r) => r.text.includes('*Verify of `env=prod`*'))!;
    expect(summary.text).toContain('6 services');
    const lines = summary.text.split('\n').slice(2);
    // Worst first, each linking its service in the console; the account without the role is one
    // line, with its fix.
    const marks = lines.map((l) => l.split(' ')[0]);
    expect(marks).toEqual([...marks].sort((a, b) => '❌⛔⚠️✅'.indexOf(a!) - '❌⛔⚠️✅'.indexOf(b!)));
    expect(lines.find((l) => l.includes(`|${failing.alias}>`))).toMatch(
      /^❌ <https:\/\/us-east-1\.console\.aws\.amazon\.com\/ecs\/v2\/clusters\/fleet\/services\//,
    );
    const unreachable = lines.filter((l) => l.startsWith('⛔'));
    expect(unreachable).toEqual([
      expect.stringContaining(`account ${missing} (2 services) cannot be reached: deploy the target role (infra/cross-account-role.yaml) in ${missing}`),
    ]);
    // One file share with both files.
    const share = replies.find((r) => r.files.length > 0)!;
    expect(share.text).toContain('The whole result: 6 services, as CSV and JSON.');
    const files = share.files.map((id) => world.slack.workspace.files.find((f) => f.id === id)!);
    expect(files.map((f) => f.name).sort()).toEqual([expect.stringMatching(/^verify-.*\.csv$/), expect.stringMatching(/^verify-.*\.json$/)]);
    const csv = files.find((f) => f.name.endsWith('.csv'))!.content.toString();
    expect(csv.split('\r\n')[0]).toBe('alias,account,region,verdict,summary,detail');
    expect(csv.split('\r\n')[1]).toMatch(/^"[\w-]+","\d{12}","us-east-1","fail",/); // worst first
    const json = JSON.parse(files.find((f) => f.name.endsWith('.json'))!.content.toString());
    expect(json.counts.error).toBe(2);
    expect(json.results).toHaveLength(6);
    expect(json.results.filter((r: { verdict: string }) => r.verdict === 'error').map((r: { accountId: string }) => r.accountId)).toEqual([missing, missing]);
    expect(json.results.find((r: { alias: string }) => r.alias === failing.alias).verdict).toBe('fail');
    // The seed's healthy services pass: a fleet where everything fails would prove nothing.
    const healthy = json.results.filter((r: { alias: string; accountId: string }) => r.accountId !== missing && r.alias !== failing.alias);
    expect(healthy.length).toBeGreaterThan(0);
    expect(healthy.map((r: { verdict: string; summary: string }) => `${r.verdict}: ${r.summary}`)).toEqual(
      healthy.map(() => expect.stringMatching(/^(ok|warn):/)),
    );
    expect(summary.text).toContain(`❌ ${json.counts.fail} failing · ⛔ 2 not reachable`);
    // The same answer whatever the fleet's size: a parent, a summary, a few edits, the files.
    expect(writes.length).toBeLessThanOrEqual(10);
  });

  it('runs on the run workflow’s function, reading other accounts as their target role', async () => {
    const assumed = world.aws.authority.decisions.filter((d) => d.functionName === RUN_WORKFLOW_FUNCTION && d.action === 'sts:AssumeRole');
    const roles = new Set(assumed.filter((d) => d.decision === 'allowed').map((d) => d.resource));
    for (const account of fleet.accounts.filter((a) => !fleet.missingRole.includes(a.id)))
      expect(roles).toContain(`arn:aws:iam::${account.id}:role/${fleet.roleName}`);
  });

  it('refuses --image with a selector, and a selector matching nothing privately, with the closest labels: nothing posted in the channel', async () => {
    const image = JSON.parse((await world.slash('U0ALICE', 'verify env=prod --image v2', CHANNEL)).body).text as string;
    expect(image).toContain('`--image` and `--put-logs` are for one service, not a selector.');
    const { said, posts, newParents, record } = await refusedPrivately('verify env=prd');
    expect(said.text).toBe(
      '❌ No service of yours here matches `env=prd`: no service has `env=prd` (did you mean `env=prod`?); its values: `prod`. Labels of your services: `account`, `cluster`, `env`, `region`, `team`.',
    );
    expect(said.responseType).toBe('ephemeral');
    // In place of the "Working on" note: nothing is under way.
    expect(said.replaceOriginal).toBe(true);
    expect(newParents).toBe(0);
    expect(posts).toEqual([]);
    expect(record).toMatchObject({ outcome: 'refused', decision: 'invalid', reason: expect.stringContaining('No service of yours here matches `env=prd`') });
  });
});

describe('a selection larger than selectors.maxSelection', () => {
  it('is refused privately, asking to narrow it; an admin of all of them goes on with --all', async () => {
    const config = (await import('../src/config/load')).getConfig();
    setConfig({ ...config, selectors: { ...config.selectors, maxSelection: 3 } });
    try {
      const { said, posts, newParents, record } = await refusedPrivately('status env=prod');
      expect(said.text).toBe(
        '❌ `env=prod` matches 6 services, more than 3 (`selectors.maxSelection` in the configuration). Narrow it (add a term such as `,region=…` or `,team=…`), or, if you are an admin of all of them, add `--all`.',
      );
      expect([newParents, posts.length]).toEqual([0, 0]);
      expect(record).toMatchObject({ outcome: 'refused', decision: 'invalid' });
      const { marked, newParents: withAll } = await fleetCommand('status env=prod --all');
      expect(withAll).toBe(1);
      expect(marked).toMatch(/^(✅|❌) <@U0ALICE> ran `\/ecs status env=prod --all`/);
    } finally {
      setConfig(config);
    }
  });
});

describe('a fleet command with no response_url (the signed API, a webhook, a schedule)', () => {
  it('is refused in its thread, since there is nobody to tell privately, and audited as invalid', async () => {
    const text = 'verify team=nobody';
    const id = randomUUID();
    const audit = await dynamoAudit(30).record({
      id,
      at: new Date().toISOString(),
      teamId: world.teamId,
      userId: 'U0ALICE',
      channelId: CHANNEL,
      commandText: `/ecs ${text}`,
      decision: 'allowed',
      outcome: 'accepted',
    });
    const job: CommandJob = {
      kind: 'command',
      id,
      verb: 'verify',
      args: { selector: 'team=nobody' },
      audit,
      receivedAt: Date.now(),
      invocation: { teamId: world.teamId, userId: 'U0ALICE', channelId: CHANNEL, command: '/ecs', text },
    };
    const before = parents().length;
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    const parent = await world.slack.waitFor(() => parents()[before], 20_000);
    expect(await outcome(parent.ts)).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify team=nobody`/);
    await world.idle();
    expect(world.slack.replies(CHANNEL, parent.ts).map((r) => r.text)).toEqual([
      expect.stringMatching(/^❌ No service of yours here matches `team=nobody`: no service has `team=nobody`/),
    ]);
    expect(await readAuditRecord(audit)).toMatchObject({ outcome: 'refused', decision: 'invalid' });
  });
});

/**
 * Sends a fleet command the worker refuses: what the requester is told privately (through the
 * response_url), the channel posts it caused, and its audit record.
 */
async function refusedPrivately(text: string) {
  const parentsBefore = parents().length;
  const callsBefore = world.slack.calls.length;
  const answered = world.slack.workspace.responses.length;
  expect(JSON.parse((await world.slash('U0ALICE', text, CHANNEL)).body).text).toMatch(/Working on/);
  const said = await world.slack.waitFor(() => world.slack.workspace.responses.slice(answered).find((r) => r.text?.startsWith('❌')), 20_000);
  await world.idle();
  const posts = world.slack.calls.slice(callsBefore).filter((c) => c.method === 'chat.postMessage');
  const record = (await teamAudit(world)).find((r) => r.commandText === `/ecs ${text}`);
  return { said, posts, newParents: parents().length - parentsBefore, record };
}

describe('/ecs status <selector>', () => {
  it('judges each service from DescribeServices, one thread, the unreachable account a result', async () => {
    const team = fleet.services.find((s) => !fleet.missingRole.includes(s.accountId))!.tags.team!;
    const { marked, replies } = await fleetCommand(`status team=${team}`);
    const summary = replies.find((r) => r.text.includes(`*Status of \`team=${team}\`*`))!;
    expect(summary.text).toMatch(/✅ \d+ ok/);
    expect(summary.text).toMatch(/running, \d+ pending, steady/);
    expect(marked).toMatch(/^(✅|❌) <@U0ALICE> ran `\/ecs status team=/);
    expect(replies.some((r) => r.files.length === 2)).toBe(true);
  });
});

describe('services in the bot’s own account', () => {
  it('are read by the run workflow’s own role: exactly its Fleet grants, nothing refused', async () => {
    const since = world.aws.authority.decisions.length;
    const { marked, replies } = await fleetCommand('verify cluster=main');
    expect(marked).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify cluster=main`/); // `broken` fails
    expect(replies.find((r) => r.text.includes('*Verify of `cluster=main`*'))!.text).toMatch(/❌ <[^|]+\|broken> \(this account us-east-1\)/);
    await fleetCommand('status cluster=main');
    const own = world.aws.authority.decisions.slice(since).filter((d) => d.functionName === RUN_WORKFLOW_FUNCTION && d.roleArn.endsWith('-run-workflow'));
    expect(own.filter((d) => d.decision !== 'allowed')).toEqual([]);
    const actions = new Set(own.map((d) => d.action));
    for (const action of [
      'ecs:DescribeServices',
      'ecs:DescribeTaskDefinition',
      'iam:GetRole',
      'iam:SimulatePrincipalPolicy',
      'ecr:DescribeImages',
      'secretsmanager:DescribeSecret',
      'kms:DescribeKey',
      'kms:GetKeyPolicy',
      'logs:DescribeLogGroups',
      'ssm:DescribeParameters',
      'elasticloadbalancing:DescribeTargetGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeRouteTables',
      'ec2:DescribeVpcEndpoints',
    ])
      expect(actions, action).toContain(action);
    // A fleet verify writes nothing (the function's own log lines aside).
    expect(own.filter((d) => d.action === 'logs:PutLogEvents' && !d.resource.includes(':log-group:/aws/lambda/'))).toEqual([]);
  });
});

describe('an account that throttles', () => {
  it('slows the run down, never fails it: no result an error, nothing unchecked, ≤ 5 calls in flight', async () => {
    const account = fleet.accounts.find((a) => !fleet.missingRole.includes(a.id))!.id;
    world.aws.traffic.resetMeter();
    world.aws.traffic.throttle(account, { burst: 4, perSecond: 20 });
    try {
      const { replies } = await fleetCommand(`verify account=${account}`);
      expect(world.aws.traffic.throttled.get(account) ?? 0).toBeGreaterThan(0);
      expect(world.aws.traffic.maxInFlight(account)).toBeLessThanOrEqual(5);
      const share = replies.find((r) => r.files.length > 0)!;
      const json = JSON.parse(world.slack.workspace.files.find((f) => share.files.includes(f.id) && f.name.endsWith('.json'))!.content.toString());
      expect(json.results).toHaveLength(2);
      for (const r of json.results) {
        expect(r.verdict).not.toBe('error');
        expect(r.detail.unverified).toBe(0);
      }
    } finally {
      world.aws.traffic.throttle(account, undefined);
    }
  });
});

describe('npm run verify -- <selector> --json (CI)', () => {
  it('verifies every matching declared service, the results as JSON, exit 1 on a failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-cli-'));
    try {
      const file = parse(readFileSync('ecs-chatops.config.yaml', 'utf8'));
      file.targets.web.labels = { tier: 'edge' };
      file.targets.broken.labels = { tier: 'edge' };
      const config = join(dir, 'config.yaml');
      writeFileSync(config, stringify(file));
      let out = '';
      let err = '';
      const code = await verifyCli(['tier=edge', '--json', '--config', config], { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false });
      expect(err).toContain('Verifying 2 services matching tier=edge.');
      const json = JSON.parse(out);
      expect(json.results.map((r: { alias: string; verdict: string }) => [r.alias, r.verdict])).toEqual([
        ['broken', 'fail'],
        ['web', 'ok'],
      ]);
      expect(code).toBe(1);
      let usage = '';
      expect(await verifyCli(['tier=edge', '--image', 'v2', '--config', config], { stdout: () => undefined, stderr: (s) => (usage += s), isTTY: false })).toBe(
        2,
      );
      expect(usage).toContain('--image and --put-logs are for one service, not a selector');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
