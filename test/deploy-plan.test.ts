/**
 * The planning half of `/ecs deploy` and `/ecs rollback`: what is worked out before anyone is asked
 * to approve (src/deploy/plan.ts against the emulator's seeded account), how the commands parse
 * (src/commands/registry.ts with the shipped configuration), and how a request reads in Slack
 * (src/deploy/render.ts).
 */
import { readFileSync } from 'node:fs';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { codeDeployState } from '../local/aws/codedeploy';
import { AwsSession } from '../src/aws/session';
import { everything, parseRequest } from '../src/commands/registry';
import { DEPLOY_DEFAULTS, parseConfig, type Target } from '../src/config/schema';
import type { DeployHistoryEntry } from '../src/deploy/history';
import { planDeploy, type PlanInput } from '../src/deploy/plan';
import { approvalBody, DOING, statusLine } from '../src/deploy/render';
import type { DeployPlan } from '../src/deploy/types';
import type { ApprovalRule, ApprovalRequest } from '../src/approval/types';
import { UsageError, UserFacingError } from '../src/platform/errors';

const ECR = `${SAMPLE.accountId}.dkr.ecr.${SAMPLE.region}.amazonaws.com`;
const verify = { skip: [], putLogs: false, requiredPermissions: [] };
const deploy = DEPLOY_DEFAULTS;
/** Targets of the seeded sample account (as test/support/verify.ts), plus the CodeDeploy one. */
const TARGETS: Record<string, Target> = {
  web: { region: 'us-east-1', cluster: 'main', service: 'web', verify, deploy },
  manager: { region: 'us-east-1', cluster: 'main', service: 'manager', manager: { container: 'app' }, verify, deploy },
  legacy: { region: 'us-east-1', cluster: 'blue-green', service: 'legacy', verify, deploy },
};
const tdArn = (familyRevision: string) => `arn:aws:ecs:${SAMPLE.region}:${SAMPLE.accountId}:task-definition/${familyRevision}`;

describe('planDeploy against the seeded account', () => {
  let emu: AwsEmulator;
  let ecs: ECSClient;
  let aws: AwsSession;

  // A fresh account per test: several tests register, deregister and deploy revisions.
  beforeEach(async () => {
    emu = await startAwsEmulator({ clockRate: 0 });
    Object.assign(process.env, emu.endpointEnv());
    ecs = new ECSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
    aws = new AwsSession(TARGETS.web!, { teamId: 'T0LOCAL', userId: 'U0ALICE' });
  });
  afterEach(async () => {
    aws.destroy();
    ecs.destroy();
    await emu.close();
  });

  const plan = (alias: string, input: PlanInput) => planDeploy(aws, { alias, ...TARGETS[alias]! }, input);
  /** The error a plan fails with (the test fails if it does not). */
  const failure = async (alias: string, input: PlanInput): Promise<Error> => {
    const error = await plan(alias, input).then(
      (p) => p,
      (e: unknown) => e as Error,
    );
    if (!(error instanceof Error)) throw new Error(`expected the plan to fail, got ${JSON.stringify(error.plan)}`);
    return error;
  };
  /** Registers the next `web` revision with `image` for the app container (as a pipeline would). */
  async function registerWeb(image: string): Promise<string> {
    const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition!;
    const input = { ...current, containerDefinitions: current.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)) };
    return (await ecs.send(new RegisterTaskDefinitionCommand(input as RegisterTaskDefinitionCommandInput))).taskDefinition!.taskDefinitionArn!;
  }
  /** Deploys `taskDefinition` to web and lets the rollout finish, so no deployment is in progress. */
  async function deployWeb(taskDefinition: string): Promise<void> {
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition }));
    emu.clock.advance(10 * 60_000);
  }
  const entry = (familyRevision: string, outcome: DeployHistoryEntry['outcome'], i: number): DeployHistoryEntry => ({
    taskDefinition: tdArn(familyRevision),
    outcome,
    deployId: `d${i}`,
    at: new Date(Date.UTC(2026, 10, 24, 12, 0) - i * 3_600_000).toISOString(),
  });

  describe('deploy', () => {
    it('a bare tag re-images the app container, and says the image is in ECR', async () => {
      const { plan: p, notes, service } = await plan('web', { action: 'deploy', image: 'v1.5.0' });
      expect(service.serviceName).toBe('web');
      expect(p).toEqual({
        action: 'deploy',
        currentTaskDefinition: SAMPLE.taskDefinitions.web,
        changes: [{ container: 'app', from: SAMPLE.images.web, to: SAMPLE.images.webNext }],
        imageNotes: [`\`app\`: \`${SAMPLE.images.web}\` → \`${SAMPLE.images.webNext}\``],
        // What the approvals are bound to: the running revision, the controller and strategy, the content to register.
        basis: {
          running: SAMPLE.taskDefinitions.web,
          controller: 'ECS',
          strategy: 'ROLLING',
          target: `new:${SAMPLE.taskDefinitions.web}`,
          content: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
        hash: expect.stringMatching(/^[0-9a-f]{12}$/),
        strategy: 'rolling update (at least 100% healthy, at most 200%, circuit breaker)',
      });
      // The seeded web is steady: the only note is the image check.
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(
        /^✅ `web:v1\.5\.0` is in the ECR repository `web` \(account `111111111111`, us-east-1\), pushed \d{4}-\d\d-\d\d \d\d:\d\d UTC$/,
      );
    });

    it('the full image of the same repository works the same way', async () => {
      const { plan: p } = await plan('web', { action: 'deploy', image: SAMPLE.images.webNext });
      expect(p.changes).toEqual([{ container: 'app', from: SAMPLE.images.web, to: SAMPLE.images.webNext }]);
    });

    it('a tag ECR does not have stops the request, naming the tag and the most recent tags', async () => {
      const error = await failure('web', { action: 'deploy', image: 'v9-missing' });
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toContain('has no image tagged `v9-missing`');
      expect(error.message).toContain('ECR repository `web`');
      // Newest push first, from the seeded repository.
      expect(error.message).toContain('most recent tags: `v2-oom`, `v2-crash`, `v1.5.0`, `v1.4.2`, `v1.4.1`');
      expect(error.message).toMatch(/Nobody was asked to approve/);
    });

    it('the image already running is refused, pointing at --redeploy', async () => {
      for (const image of ['v1.4.2', SAMPLE.images.web]) {
        const error = await failure('web', { action: 'deploy', image });
        expect(error).toBeInstanceOf(UserFacingError);
        expect(error.message).toContain(`\`web\` already runs \`${SAMPLE.images.web}\` (\`web:42\`)`);
        expect(error.message).toContain('`/ecs deploy web --redeploy`');
      }
    });

    it('a full image of a repository no container uses is a usage error', async () => {
      const error = await failure('web', { action: 'deploy', image: `${ECR}/api:v1` });
      expect(error).toBeInstanceOf(UsageError);
      expect(error.message).toContain(`No container uses repository \`${ECR}/api\``);
      expect(error.message).toContain('`app` → ');
    });

    it('warns when a deployment is still rolling out', async () => {
      await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:41' }));
      // The clock does not move: the web:41 rollout has not started a task yet.
      const { plan: p, notes } = await plan('web', { action: 'deploy', image: 'v1.5.0' });
      expect(p.currentTaskDefinition).toBe(SAMPLE.taskDefinitions.webPrevious);
      expect(p.changes).toEqual([{ container: 'app', from: SAMPLE.images.webPrevious, to: SAMPLE.images.webNext }]);
      expect(notes[0]).toBe('⚠️ A deployment is still rolling out (`web:41`, 0/2 running); this one would replace it.');
      expect(notes[1]).toMatch(/^✅ /);
    });
  });

  describe('redeploy', () => {
    it('changes nothing: the target is the current task definition, its images pulled again', async () => {
      const { plan: p, notes } = await plan('web', { action: 'redeploy' });
      expect(p).toEqual({
        action: 'redeploy',
        currentTaskDefinition: SAMPLE.taskDefinitions.web,
        targetTaskDefinition: SAMPLE.taskDefinitions.web,
        changes: [],
        imageNotes: [`\`app\`: \`${SAMPLE.images.web}\` (pulled again)`, `\`log-router\`: \`${SAMPLE.images.logRouter}\` (pulled again)`],
        basis: expect.objectContaining({ running: SAMPLE.taskDefinitions.web, target: SAMPLE.taskDefinitions.web }),
        hash: expect.stringMatching(/^[0-9a-f]{12}$/),
        strategy: expect.stringMatching(/^rolling update/),
      });
      expect(notes).toEqual([]);
    });
  });

  describe('rollback', () => {
    it('without a revision and without history: the newest older active revision', async () => {
      const { plan: p } = await plan('web', { action: 'rollback' });
      expect(p).toMatchObject({
        action: 'rollback',
        currentTaskDefinition: SAMPLE.taskDefinitions.web,
        targetTaskDefinition: SAMPLE.taskDefinitions.webPrevious,
        changes: [{ container: 'app', from: SAMPLE.images.web, to: SAMPLE.images.webPrevious }],
        imageNotes: [`\`app\`: \`${SAMPLE.images.web}\` → \`${SAMPLE.images.webPrevious}\``],
      });
    });

    it('without a revision: the newest successful revision of the history that is not the current one', async () => {
      const web43 = await registerWeb(SAMPLE.images.webCrash);
      const web44 = await registerWeb(SAMPLE.images.webNext);
      await deployWeb(web44);
      // web:43 was registered but never rolled out well: the newest older active revision, not the one to go back to.
      // History is newest first; an entry of another family (the service ran another one once) does not count.
      const history = [entry('web:44', 'success', 0), entry('broken:6', 'success', 1), entry('web:42', 'success', 2), entry('web:41', 'success', 3)];
      const { plan: p } = await plan('web', { action: 'rollback', history });
      expect(web43).toBe(tdArn('web:43'));
      expect(p.currentTaskDefinition).toBe(web44);
      expect(p.targetTaskDefinition).toBe(SAMPLE.taskDefinitions.web);
      expect(p.changes).toEqual([{ container: 'app', from: SAMPLE.images.webNext, to: SAMPLE.images.web }]);
      // Only the current revision on record: the fallback, web:43.
      const { plan: fallback } = await plan('web', { action: 'rollback', history: [entry('web:44', 'success', 0)] });
      expect(fallback.targetTaskDefinition).toBe(web43);
    });

    it('without a successful history entry: the newest older active revision that did not fail', async () => {
      await registerWeb(SAMPLE.images.webCrash);
      const web44 = await registerWeb(SAMPLE.images.webNext);
      await deployWeb(web44);
      const { plan: p } = await plan('web', { action: 'rollback', history: [entry('web:43', 'failure', 0)] });
      expect(p.targetTaskDefinition).toBe(SAMPLE.taskDefinitions.web);
      // Without the failure on record, web:43 is the one.
      const { plan: plain } = await plan('web', { action: 'rollback', history: [] });
      expect(plain.targetTaskDefinition).toBe(tdArn('web:43'));
    });

    it('refuses when there is no older active revision', async () => {
      // manager:3 is the only revision of its family.
      const manager = await failure('manager', { action: 'rollback', history: [entry('manager:3', 'success', 0)] });
      expect(manager).toBeInstanceOf(UserFacingError);
      expect(manager.message).toBe('There is no active revision of `manager` older than `manager:3` to roll back to.');

      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:41' }));
      const web = await failure('web', { action: 'rollback' });
      expect(web.message).toBe('There is no active revision of `web` older than `web:42` to roll back to.');
    });

    it('a named revision: `41`, `web:41` or its ARN', async () => {
      for (const revision of ['41', 'web:41', SAMPLE.taskDefinitions.webPrevious]) {
        const { plan: p } = await plan('web', { action: 'rollback', revision });
        expect(p.targetTaskDefinition, revision).toBe(SAMPLE.taskDefinitions.webPrevious);
        expect(p.changes, revision).toEqual([{ container: 'app', from: SAMPLE.images.web, to: SAMPLE.images.webPrevious }]);
      }
    });

    it('a named revision wins over the history', async () => {
      const web43 = await registerWeb(SAMPLE.images.webNext);
      await deployWeb(web43);
      const { plan: p } = await plan('web', { action: 'rollback', revision: '41', history: [entry('web:43', 'success', 0), entry('web:42', 'success', 1)] });
      expect(p.targetTaskDefinition).toBe(SAMPLE.taskDefinitions.webPrevious);
    });

    it('refuses another family’s revision, as `family:N`', async () => {
      const error = await failure('web', { action: 'rollback', revision: 'broken:6' });
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toBe('`broken:6` is not a revision of `web`, the family this service runs.');
    });

    it('refuses another family’s revision given as an ARN', async () => {
      // Else web would be "rolled back" onto broken's task definition (its roles, secrets and log group).
      const error = await failure('web', { action: 'rollback', revision: SAMPLE.taskDefinitions.brokenPrevious });
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toMatch(/is not a revision of `web`/);
    });

    it('refuses the revision the service already runs, by number, name or ARN', async () => {
      // Else the plan is a rollback to the same revision ("same images; other settings of the task definition differ").
      for (const revision of ['42', 'web:42', SAMPLE.taskDefinitions.web]) {
        const error = await failure('web', { action: 'rollback', revision });
        expect(error, revision).toBeInstanceOf(UserFacingError);
        expect(error.message, revision).toMatch(/already runs `web:42`/);
      }
    });

    it('refuses an INACTIVE (deregistered) revision', async () => {
      const out = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:41' }));
      expect(out.taskDefinition).toMatchObject({ status: 'INACTIVE' });
      const error = await failure('web', { action: 'rollback', revision: '41' });
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toBe('`web:41` is INACTIVE: a deregistered revision cannot be deployed. `/ecs rollback web` picks the previous active one.');
    });

    it('refuses a revision that does not exist', async () => {
      const error = await failure('web', { action: 'rollback', revision: '7' });
      expect(error).toBeInstanceOf(UserFacingError);
      expect(error.message).toBe('Task definition `web:7` was not found.');
    });

    it('without a revision, passes over a history entry whose revision was deregistered since', async () => {
      await registerWeb(SAMPLE.images.webCrash);
      const web44 = await registerWeb(SAMPLE.images.webNext);
      await deployWeb(web44);
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:42' }));
      // web:42 ran well but is gone; `/ecs rollback web` must not answer "`web:42` is INACTIVE … `/ecs rollback web` picks the previous active one".
      const { plan: p } = await plan('web', {
        action: 'rollback',
        history: [entry('web:44', 'success', 0), entry('web:42', 'success', 1), entry('web:41', 'success', 2)],
      });
      expect(p.targetTaskDefinition).toBe(SAMPLE.taskDefinitions.webPrevious);
    });
  });

  describe('a CodeDeploy (blue/green) service', () => {
    const store = () => codeDeployState(emu.state.region(SAMPLE.accountId, SAMPLE.region));
    const LEGACY_TD = SAMPLE.taskDefinitions.legacy;

    it('plans every action through the deployment group found as ecspresso finds it, with its config and auto-rollback', async () => {
      const { plan: p, notes } = await plan('legacy', { action: 'deploy', image: 'v3.3.0' });
      expect(p.codeDeploy).toEqual({
        application: 'legacy',
        deploymentGroup: 'legacy',
        deploymentConfig: 'CodeDeployDefault.ECSAllAtOnce',
        autoRollback: true,
        autoRollbackBy: 'deployment group',
        containerName: 'app',
        containerPort: 8080,
        terminationWaitMinutes: 5,
      });
      expect(p.strategy).toBe(
        'CodeDeploy blue/green through deployment group legacy/legacy: CodeDeployDefault.ECSAllAtOnce (all traffic at once); CodeDeploy’s auto-rollback on failure on (the deployment group’s setting); the original task set is kept 5 min after the shift'.replace(
          'CodeDeploy’s',
          "CodeDeploy's",
        ),
      );
      expect(p.basis).toMatchObject({ controller: 'CODE_DEPLOY', strategy: 'CODE_DEPLOY legacy/legacy CodeDeployDefault.ECSAllAtOnce', running: LEGACY_TD });
      expect(p.changes).toEqual([{ container: 'app', from: SAMPLE.images.legacy, to: SAMPLE.images.legacyNext }]);
      expect(notes.join('\n')).toContain('legacy:v3.3.0');
      expect((await plan('legacy', { action: 'redeploy' })).plan.codeDeploy?.deploymentGroup).toBe('legacy');
    });

    it('a canary group is named with its traffic steps; without the group’s auto-rollback, the target’s deploy.rollback asks for it', async () => {
      const group = store().groups.get('legacy/legacy')!;
      group.deploymentConfigName = 'CodeDeployDefault.ECSCanary10Percent5Minutes';
      group.autoRollbackConfiguration = { enabled: false, events: [] };
      const { plan: p } = await plan('legacy', { action: 'deploy', image: 'v3.3.0' });
      expect(p.strategy).toContain('CodeDeployDefault.ECSCanary10Percent5Minutes (canary 10% for 5 min, then 100%)');
      expect(p.strategy).toContain('auto-rollback on failure on (the target’s deploy.rollback)');
      TARGETS.legacy!.deploy = { ...deploy, rollback: false };
      try {
        expect((await plan('legacy', { action: 'deploy', image: 'v3.3.0' })).plan.strategy).toContain('auto-rollback on failure off');
      } finally {
        TARGETS.legacy!.deploy = deploy;
      }
    });

    it('refuses when no deployment group names the service, or more than one does, unless the target names one', async () => {
      const group = store().groups.get('legacy/legacy')!;
      store().groups.set('legacy/legacy-copy', { ...structuredClone(group), deploymentGroupName: 'legacy-copy', deploymentGroupId: 'copy' });
      const two = await failure('legacy', { action: 'deploy', image: 'v3.3.0' });
      expect(two).toBeInstanceOf(UserFacingError);
      expect(two.message).toContain('2 CodeDeploy deployment groups name `legacy` in cluster `blue-green` (`legacy/legacy`, `legacy/legacy-copy`)');
      expect(two.message).toContain('`targets.legacy.codeDeploy: { application, deploymentGroup }`');
      TARGETS.legacy!.codeDeploy = { application: 'legacy', deploymentGroup: 'legacy-copy' };
      try {
        expect((await plan('legacy', { action: 'deploy', image: 'v3.3.0' })).plan.codeDeploy?.deploymentGroup).toBe('legacy-copy');
        TARGETS.legacy!.codeDeploy = { application: 'legacy', deploymentGroup: 'nope' };
        expect((await failure('legacy', { action: 'deploy', image: 'v3.3.0' })).message).toContain('CodeDeploy has no deployment group `legacy/nope`');
      } finally {
        delete TARGETS.legacy!.codeDeploy;
      }
      store().groups.clear();
      const none = await failure('legacy', { action: 'deploy', image: 'v3.3.0' });
      expect(none.message).toContain(
        '`legacy` is deployed by CodeDeploy, but no deployment group of an ECS application names `legacy` in cluster `blue-green`',
      );
    });

    it('refuses a service of an external controller, whatever the action', async () => {
      const service = emu.state.region(SAMPLE.accountId, SAMPLE.region).ecs.clusters.get('blue-green')!.services.get('legacy')!;
      service.deploymentController = { type: 'EXTERNAL' };
      for (const input of [{ action: 'deploy', image: 'v3.3.0' }, { action: 'redeploy' }, { action: 'rollback' }] as PlanInput[]) {
        const error = await failure('legacy', input);
        expect(error).toBeInstanceOf(UserFacingError);
        expect(error.message).toContain('`legacy` uses an external deployment controller');
        expect(error.message).toContain('Nothing was changed.');
      }
    });
  });
});

describe('parsing /ecs deploy and /ecs rollback (shipped configuration)', () => {
  const config = parseConfig(parse(readFileSync('ecs-chatops.config.yaml', 'utf8')));
  const parsed = (text: string) => parseRequest(text, config, everything(config));

  it('deploy: a service and a tag or image', () => {
    const r = parsed('deploy web v1.5.0');
    expect(r.verb.name).toBe('deploy');
    expect(r.scope).toEqual({ target: 'web' });
    expect(r.args).toEqual({ target: 'web', action: 'deploy', image: 'v1.5.0' });
    expect(parsed(`deploy web ${SAMPLE.images.webNext}`).scope.target).toBe('web');
    expect(parsed(`deploy web ${ECR}/web@sha256:${'a'.repeat(64)}`).scope.target).toBe('web');
  });

  it('deploy without an image asks which one', () => {
    expect(() => parsed('deploy web')).toThrow(UsageError);
    expect(() => parsed('deploy web')).toThrow(/^Which image or tag\? For example `\/ecs deploy web v1\.5\.0`\.\nUsage: /);
  });

  it('deploy --redeploy takes no image', () => {
    const r = parsed('deploy web --redeploy');
    expect(r.scope).toEqual({ target: 'web' });
    expect(r.args).toEqual({ target: 'web', action: 'redeploy' });
    expect(() => parsed('deploy web v1 --redeploy')).toThrow(/^Unexpected `v1`\./);
    expect(() => parsed('deploy --redeploy')).toThrow(/Which service\?/);
  });

  it('refuses an image with spaces or shell characters', () => {
    for (const image of ['bad image!', 'v1;rm', '$(id)', 'v1|cat', '`id`', '-v1']) {
      expect(() => parsed(`deploy web "${image}"`), image).toThrow(UsageError);
      expect(() => parsed(`deploy web "${image}"`), image).toThrow(/is not an image or a tag\./);
    }
  });

  it('an unknown service names the choices and the closest one', () => {
    expect(() => parsed('deploy nope v1')).toThrow(
      /^Unknown service `nope`, or not one of yours\. Yours here: `web`, `broken`, `manager`, `web-bg`, `web-canary`, `web-linear`, `legacy`\./,
    );
    expect(() => parsed('deploy wbe v1')).toThrow(/^Unknown service `wbe`, or not one of yours\. Did you mean `web`\? Yours here: /);
    expect(() => parsed('rollback wbe')).toThrow(/Did you mean `web`\?/);
  });

  it('rollback: the previous revision, a number, family:number or an ARN', () => {
    for (const text of ['rollback web', 'rollback web 42', 'rollback web web:42', `rollback web ${SAMPLE.taskDefinitions.webPrevious}`]) {
      const r = parsed(text);
      expect(r.verb.name, text).toBe('rollback');
      expect(r.scope, text).toEqual({ target: 'web' });
    }
  });

  it('rollback refuses what is not a revision, and extra words', () => {
    for (const revision of ['latest', 'v1.4.1', 'web:', ':42', 'web:42:1']) {
      expect(() => parsed(`rollback web ${revision}`), revision).toThrow(/is not a revision: give `42`, `family:42` or a task definition ARN\./);
    }
    expect(() => parsed('rollback web 42 43')).toThrow(/^Unexpected `43`\./);
    expect(() => parsed('rollback')).toThrow(/Which service\?/);
  });
});

describe('how a deploy request reads', () => {
  const deadline = Date.UTC(2026, 10, 24, 12, 37);
  const rule = (overrides: Partial<ApprovalRule> = {}): ApprovalRule => ({
    required: 1,
    approverRole: 'approver',
    approveEmoji: 'white_check_mark',
    rejectEmoji: 'x',
    deadline,
    ...overrides,
  });
  const plan = (action: DeployPlan['action'] = 'deploy'): DeployPlan => ({
    action,
    currentTaskDefinition: SAMPLE.taskDefinitions.web,
    changes: [],
    imageNotes: ['`app`: `a` → `b`', '`worker`: `c` → `d`'],
  });
  type StatusInput = Parameters<typeof statusLine>[0];
  const doing = (action: DeployPlan['action'] = 'deploy') => DOING[action];
  const request = (r: Partial<StatusInput>): StatusInput => ({ status: 'pending', rule: rule(), doing: doing(), ...r });

  it('statusLine: pending, with none and with some of the approvals', () => {
    expect(statusLine(request({}))).toBe('⏳ Waiting for approval.');
    expect(statusLine(request({ approvals: [] }))).toBe('⏳ Waiting for approval.');
    expect(statusLine(request({ approvals: ['U0BOB'], rule: rule({ required: 2 }) }))).toBe('⏳ Approved by <@U0BOB> (1 of 2); waiting for more.');
  });

  it('statusLine: approved, by action', () => {
    expect(statusLine(request({ status: 'approved', approvals: ['U0BOB', 'U0CAROL'], rule: rule({ required: 2 }) }))).toBe(
      '👍 Approved by <@U0BOB>, <@U0CAROL>: deploying, progress in the thread.',
    );
    expect(statusLine(request({ status: 'approved', approvals: ['U0BOB'], doing: doing('redeploy') }))).toBe(
      '👍 Approved by <@U0BOB>: redeploying, progress in the thread.',
    );
    expect(statusLine(request({ status: 'approved', approvals: ['U0BOB'], doing: doing('rollback') }))).toBe(
      '👍 Approved by <@U0BOB>: rolling back, progress in the thread.',
    );
    // No approvals recorded (an admin's decision): the decider.
    expect(statusLine(request({ status: 'approved', decidedBy: 'U0ADMIN' }))).toBe('👍 Approved by <@U0ADMIN>: deploying, progress in the thread.');
  });

  it('statusLine: rejected, cancelled, expired', () => {
    expect(statusLine(request({ status: 'rejected', decidedBy: 'U0BOB', decidedAt: Date.UTC(2026, 10, 24, 12, 9, 30) }))).toBe(
      '🙅 Rejected by <@U0BOB> at 12:09 UTC. Nothing was changed.',
    );
    expect(statusLine(request({ status: 'rejected', decidedBy: 'U0BOB' }))).toBe('🙅 Rejected by <@U0BOB>. Nothing was changed.');
    expect(statusLine(request({ status: 'cancelled', decidedBy: 'U0ALICE' }))).toBe('🚫 Withdrawn by <@U0ALICE>. Nothing was changed.');
    expect(statusLine(request({ status: 'expired' }))).toBe(
      '⌛ Expired at 12:37 UTC: not enough approvals in time. Nothing was changed; ask again if it is still wanted.',
    );
  });

  const body = (r: ApprovalRule, action: DeployPlan['action'] = 'deploy') =>
    approvalBody({ details: plan(action).imageNotes, rule: r, requesterId: 'U0ALICE' } satisfies Pick<ApprovalRequest, 'details' | 'rule' | 'requesterId'>);

  it('approvalBody: an expiry more than a day away carries its date', () => {
    const text = approvalBody({
      details: [],
      rule: rule({ deadline: Date.UTC(2026, 10, 26, 9, 5) }),
      requesterId: 'U0ALICE',
      requestedAt: '2026-11-24T12:00:00.000Z',
    });
    expect(text).toContain('Expires at 2026-11-26 09:05 UTC.');
    expect(approvalBody({ details: [], rule: rule(), requesterId: 'U0ALICE', requestedAt: '2026-11-24T12:07:00.000Z' })).toContain('Expires at 12:37 UTC.');
  });

  it('approvalBody: one line per image, then who may approve, how and until when', () => {
    const lines = body(rule()).split('\n');
    expect(lines.slice(0, 2)).toEqual(['• `app`: `a` → `b`', '• `worker`: `c` → `d`']);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^Needs 1 approval from an \*approver\* \(or admin\), not <@U0ALICE>\. /);
    expect(lines[2]).toContain('React :white_check_mark: to approve or :x: to reject. Expires at 12:37 UTC.');
  });

  it('approvalBody: several approvals from different people; an admin-only rule; other emoji', () => {
    const two = body(rule({ required: 2, approverRole: 'deployer', approveEmoji: 'rocket', rejectEmoji: 'no_entry', deadline: Date.UTC(2026, 10, 24, 23, 5) }));
    expect(two).toContain('Needs 2 approvals from different people, each a *deployer* (or admin), not <@U0ALICE>.');
    expect(two).toContain('React :rocket: to approve or :no_entry: to reject. Expires at 23:05 UTC.');
    const admin = body(rule({ approverRole: 'admin' }));
    expect(admin).toContain('Needs 1 approval from an *admin*, not <@U0ALICE>.');
    expect(admin).not.toContain('(or admin)');
    expect(body(rule({ required: 3, approverRole: 'admin' }))).toContain('Needs 3 approvals from different people, each an *admin*, not <@U0ALICE>.');
  });
});
