/**
 * ECS service deployments in the local emulator, through the real SDK client: the seeded `web-bg`
 * (BLUE_GREEN, bake 15 min, a PAUSE hook at POST_TEST_TRAFFIC_SHIFT) and `web-canary` (CANARY 10%
 * for 5 min, bake 15 min) told stage by stage over emulator time (clock rate 0: it moves only with
 * clock.advance), rolling deployments listed and described too, the APIs' refusals, and IAM.
 *
 * Default timings: a task is healthy 45 s after launch (3 steps of 15 s), a traffic shift takes
 * 15 s (`ecsTimings.trafficShiftMs`), a load-balanced task drains for 15 s.
 */
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  ContinueServiceDeploymentCommand,
  CreateServiceCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
  type DeploymentConfiguration,
  type RegisterTaskDefinitionCommandInput,
  type ServiceDeployment,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { putRole } from '../local/aws/services/iam';
import { CollectingSink } from './support/event-sink';

const S = 1000;
const MIN = 60 * S;
let emu: AwsEmulator;
let ecs: ECSClient;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  ecs = new ECSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 });
});
afterEach(async () => {
  ecs.destroy();
  await emu.close();
});

/** A new revision of `web` running `image`. */
async function registerWeb(image: string): Promise<string> {
  const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition!;
  const input = { ...current, containerDefinitions: current.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)) };
  return (await ecs.send(new RegisterTaskDefinitionCommand(input as RegisterTaskDefinitionCommandInput))).taskDefinition!.taskDefinitionArn!;
}

/** Deploys `image` to `service` and returns its service deployment's ARN (the newest one). */
async function deploy(service: string, image: string = SAMPLE.images.webNext): Promise<string> {
  const taskDefinition = await registerWeb(image);
  await ecs.send(new UpdateServiceCommand({ cluster: 'main', service, taskDefinition }));
  return (await ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service }))).serviceDeployments![0]!.serviceDeploymentArn!;
}

async function describeDeployment(arn: string): Promise<ServiceDeployment> {
  return (await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).serviceDeployments![0]!;
}

/** Status, stage and requested weights (target/source, production and test) in one line. */
async function at(arn: string): Promise<string> {
  const d = await describeDeployment(arn);
  const w = (s: ServiceDeployment['targetServiceRevision']) => `${s?.requestedProductionTrafficWeight}/${s?.requestedTestTrafficWeight}`;
  return `${d.status} ${d.lifecycleStage} green ${w(d.targetServiceRevision)} blue ${w(d.sourceServiceRevisions?.[0])}`;
}

const advance = (ms: number) => emu.clock.advance(ms);
const service = async (name: string) => (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: [name] }))).services![0]!;
/** How many targets of the group are healthy. */
async function healthyIn(targetGroupArn: string): Promise<number> {
  const elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
  const { TargetHealthDescriptions } = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  elb.destroy();
  return TargetHealthDescriptions!.filter((t) => t.TargetHealth?.State === 'healthy').length;
}
const pausedHook = async (arn: string) => (await describeDeployment(arn)).lifecycleHookDetails!.find((h) => h.status === 'AWAITING_ACTION')!;

describe('BLUE_GREEN (web-bg)', () => {
  it('runs stage by stage, holds at its pause hook until continued, bakes, cleans up blue and succeeds', async () => {
    const sink = new CollectingSink();
    emu.state.events = sink;
    const t0 = emu.clock.now();
    const arn = await deploy('web-bg');
    expect(arn).toMatch(/^arn:aws:ecs:us-east-1:111111111111:service-deployment\/main\/web-bg\/[A-Z0-9]{8}-[\w-]{12}$/);
    const started = await describeDeployment(arn);
    expect(started).toMatchObject({
      serviceArn: SAMPLE.services.webBg,
      clusterArn: SAMPLE.clusterArn,
      status: 'IN_PROGRESS',
      lifecycleStage: 'SCALE_UP',
      targetServiceRevision: { requestedTaskCount: 2, runningTaskCount: 0, pendingTaskCount: 2 },
      sourceServiceRevisions: [{ runningTaskCount: 2 }],
      deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 15 },
      deploymentCircuitBreaker: { status: 'MONITORING', failureCount: 0, threshold: 3 },
      alarms: { status: 'DISABLED' },
    });
    expect(started.createdAt!.getTime()).toBe(t0);
    expect(await at(arn)).toBe('IN_PROGRESS SCALE_UP green 0/0 blue 100/100');

    advance(45 * S); // green healthy: test traffic shifts
    expect(await at(arn)).toBe('IN_PROGRESS TEST_TRAFFIC_SHIFT green 0/100 blue 100/0');
    advance(15 * S); // paused before production traffic
    expect(await at(arn)).toBe('IN_PROGRESS POST_TEST_TRAFFIC_SHIFT green 0/100 blue 100/0');
    const hook = await pausedHook(arn);
    expect(hook).toMatchObject({ targetType: 'PAUSE', status: 'AWAITING_ACTION', timeoutAction: 'ROLLBACK' });
    expect(hook.hookId).toMatch(/^ecs-pause-[\w-]{43}$/);
    expect(hook.expiresAt!.getTime()).toBe(t0 + 60 * S + 60 * MIN);
    expect(
      sink.of('ECS Hook State Change').map((e) => [e.resources, e.detail.eventName, e.detail.hookId, e.detail.serviceDeploymentArn, e.detail.lifecycleStage]),
    ).toEqual([[[SAMPLE.services.webBg], 'HOOK_AWAITING_ACTION', hook.hookId, arn, 'POST_TEST_TRAFFIC_SHIFT']]);
    advance(30 * MIN); // holds as long as nobody answers (and the hook has not expired)
    expect(await at(arn)).toBe('IN_PROGRESS POST_TEST_TRAFFIC_SHIFT green 0/100 blue 100/0');
    // Both revisions run 2 tasks while paused; the service already names green's task definition.
    const paused = await service('web-bg');
    expect(paused.runningCount).toBe(4);
    expect(paused.deployments!.map((d) => `${d.status} ${d.rolloutState} ${d.runningCount}`)).toEqual(['PRIMARY IN_PROGRESS 2', 'ACTIVE COMPLETED 2']);

    // Blue's tasks are in the service's target group, green's in the alternate one.
    const [blueGroup, greenGroup] = SAMPLE.nativeTargetGroupArns.webBg;
    expect([await healthyIn(blueGroup!), await healthyIn(greenGroup!)]).toEqual([2, 2]);

    await ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: hook.hookId }));
    expect(await at(arn)).toBe('IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 100/100 blue 0/0');
    advance(15 * S);
    expect(await at(arn)).toBe('IN_PROGRESS BAKE_TIME green 100/100 blue 0/0');
    advance(15 * MIN);
    expect(await at(arn)).toBe('IN_PROGRESS CLEAN_UP green 100/100 blue 0/0');
    advance(15 * S); // blue drained and stopped
    const done = await describeDeployment(arn);
    expect(done).toMatchObject({
      status: 'SUCCESSFUL',
      targetServiceRevision: { runningTaskCount: 2 },
      sourceServiceRevisions: [{ runningTaskCount: 0 }],
      deploymentCircuitBreaker: { status: 'MONITORING_COMPLETE' },
    });
    expect(done.finishedAt).toBeDefined();
    const after = await service('web-bg');
    expect(after.deployments!.map((d) => `${d.status} ${d.rolloutState}`)).toEqual(['PRIMARY COMPLETED']);
    expect(after.taskDefinition).toBe('arn:aws:ecs:us-east-1:111111111111:task-definition/web:43');
    expect(after.runningCount).toBe(2);

    // The green revision now serves from the alternate target group.
    const { serviceRevisions } = await ecs.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [done.targetServiceRevision!.arn!] }));
    expect(serviceRevisions![0]).toMatchObject({
      serviceArn: SAMPLE.services.webBg,
      taskDefinition: after.taskDefinition,
      containerImages: expect.arrayContaining([{ containerName: 'app', image: SAMPLE.images.webNext }]),
      resolvedConfiguration: {
        loadBalancers: [{ targetGroupArn: SAMPLE.nativeTargetGroupArns.webBg[1], productionListenerRule: SAMPLE.listenerRules.webBgProduction }],
      },
    });
    expect(done.targetServiceRevision!.arn).toMatch(/^arn:aws:ecs:us-east-1:111111111111:service-revision\/main\/web-bg\/\d{19}$/);
    expect([await healthyIn(blueGroup!), await healthyIn(greenGroup!)]).toEqual([0, 2]);

    // The next deployment's green goes back to the first group.
    const next = await deploy('web-bg', SAMPLE.images.webPrevious);
    advance(60 * S);
    expect([await healthyIn(blueGroup!), await healthyIn(greenGroup!)]).toEqual([2, 2]);
    await ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: next, hookId: (await pausedHook(next)).hookId }));
    advance(15 * S + 15 * MIN + 15 * S);
    expect((await describeDeployment(next)).status).toBe('SUCCESSFUL');
    expect([await healthyIn(blueGroup!), await healthyIn(greenGroup!)]).toEqual([2, 0]);
  });

  it('rolls back when the pause is answered with ROLLBACK: traffic back to blue, green stopped, blue’s task definition', async () => {
    const arn = await deploy('web-bg');
    advance(60 * S);
    const hook = await pausedHook(arn);
    await ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: hook.hookId, action: 'ROLLBACK' }));
    const requested = await describeDeployment(arn);
    expect(requested).toMatchObject({
      status: 'ROLLBACK_REQUESTED',
      rollback: { serviceRevisionArn: requested.sourceServiceRevisions![0]!.arn },
      targetServiceRevision: { requestedTaskCount: 0, requestedProductionTrafficWeight: 0, requestedTestTrafficWeight: 0 },
      sourceServiceRevisions: [{ requestedTaskCount: 2, requestedProductionTrafficWeight: 100, requestedTestTrafficWeight: 100 }],
      lifecycleHookDetails: [{ hookId: hook.hookId, status: 'FAILED' }],
    });
    expect(requested.rollback!.reason).toContain(hook.hookId);
    expect((await service('web-bg')).taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    advance(15 * S);
    expect((await describeDeployment(arn)).status).toBe('ROLLBACK_IN_PROGRESS');
    advance(15 * S);
    expect(await describeDeployment(arn)).toMatchObject({ status: 'ROLLBACK_SUCCESSFUL', targetServiceRevision: { runningTaskCount: 0 } });
    const after = await service('web-bg');
    expect(after.deployments!.map((d) => `${d.status} ${d.rolloutState} ${d.taskDefinition}`)).toEqual([`PRIMARY COMPLETED ${SAMPLE.taskDefinitions.web}`]);
    expect(after.runningCount).toBe(2);
    // A rolled-back deployment cannot be continued or stopped any more.
    await expect(ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: hook.hookId }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }))).rejects.toMatchObject({
      name: 'ConflictException',
    });
  });

  it('a new deployment stops the paused one, and its rollback returns to the revision that had completed', async () => {
    const first = await deploy('web-bg');
    advance(60 * S);
    const second = await deploy('web-bg', SAMPLE.images.webPrevious);
    expect(await describeDeployment(first)).toMatchObject({ status: 'STOPPED', statusReason: 'Superseded by a newer service deployment.' });
    const d = await describeDeployment(second);
    expect(d.sourceServiceRevisions).toHaveLength(2);
    expect(d.lifecycleStage).toBe('SCALE_UP');
    advance(60 * S);
    expect((await describeDeployment(second)).lifecycleStage).toBe('POST_TEST_TRAFFIC_SHIFT');
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: second }));
    advance(30 * S);
    expect((await describeDeployment(second)).status).toBe('ROLLBACK_SUCCESSFUL');
    const after = await service('web-bg');
    expect(after.taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    expect(after.deployments!.map((dep) => `${dep.status} ${dep.taskDefinition}`)[0]).toBe(`PRIMARY ${SAMPLE.taskDefinitions.web}`);
  });

  it('applies the hook’s timeout action when nobody answers', async () => {
    const arn = await deploy('web-bg');
    advance(60 * S + 60 * MIN);
    expect(await describeDeployment(arn)).toMatchObject({ status: 'ROLLBACK_REQUESTED', lifecycleHookDetails: [{ status: 'TIMED_OUT' }] });
    advance(30 * S);
    expect((await describeDeployment(arn)).status).toBe('ROLLBACK_SUCCESSFUL');
  });

  it('rolls back on its own when green’s tasks keep failing (circuit breaker with rollback)', async () => {
    const arn = await deploy('web-bg', SAMPLE.images.webCrash);
    advance(10 * MIN);
    const d = await describeDeployment(arn);
    expect(d).toMatchObject({ status: 'ROLLBACK_SUCCESSFUL', deploymentCircuitBreaker: { status: 'TRIGGERED', threshold: 3 } });
    expect(d.rollback!.reason).toMatch(/circuit breaker/i);
    const after = await service('web-bg');
    expect(after.taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    expect(after.runningCount).toBe(2);
  });
});

describe('CANARY (web-canary)', () => {
  it('shifts 10% of production, bakes the canary 5 min, then 100%, and StopServiceDeployment rolls it back mid-step', async () => {
    const arn = await deploy('web-canary');
    advance(60 * S); // scaled up, test traffic shifted (no pause hook here)
    expect(await at(arn)).toBe('IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 10/100 blue 90/0');
    advance(2 * MIN);
    expect(await at(arn)).toBe('IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 10/100 blue 90/0');
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }));
    expect(await at(arn)).toBe('ROLLBACK_REQUESTED PRODUCTION_TRAFFIC_SHIFT green 0/0 blue 100/100');
    // Idempotent while rolling back.
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn }));
    advance(30 * S);
    expect((await describeDeployment(arn)).status).toBe('ROLLBACK_SUCCESSFUL');
    expect((await service('web-canary')).taskDefinition).toBe(SAMPLE.taskDefinitions.web);
  });

  it('reaches 100% after the canary’s bake and succeeds after the deployment bake', async () => {
    const arn = await deploy('web-canary');
    advance(60 * S + 15 * S + 5 * MIN);
    expect(await at(arn)).toBe('IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 100/100 blue 0/0');
    advance(15 * S);
    expect(await at(arn)).toBe('IN_PROGRESS BAKE_TIME green 100/100 blue 0/0');
    advance(15 * MIN + 15 * S);
    expect((await describeDeployment(arn)).status).toBe('SUCCESSFUL');
  });
});

describe('LINEAR', () => {
  it('steps production traffic by stepPercent with a bake between steps', async () => {
    await ecs.send(
      new UpdateServiceCommand({
        cluster: 'main',
        service: 'web-canary',
        deploymentConfiguration: { strategy: 'LINEAR', bakeTimeInMinutes: 0, linearConfiguration: { stepPercent: 40, stepBakeTimeInMinutes: 1 } },
      }),
    );
    const arn = await deploy('web-canary');
    advance(60 * S);
    const weights: string[] = [];
    for (let i = 0; i < 3; i++) {
      weights.push(await at(arn));
      advance(15 * S + MIN);
    }
    expect(weights).toEqual([
      'IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 40/100 blue 60/0',
      'IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 80/100 blue 20/0',
      'IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT green 100/100 blue 0/0',
    ]);
    advance(MIN);
    expect((await describeDeployment(arn)).status).toBe('SUCCESSFUL');
  });
});

describe('rolling service deployments', () => {
  it('records one per deployment (not for a desiredCount change), newest first, with filters and paging', async () => {
    const first = await deploy('web');
    expect(await describeDeployment(first)).toMatchObject({ status: 'IN_PROGRESS', deploymentConfiguration: { strategy: 'ROLLING' } });
    expect((await describeDeployment(first)).lifecycleStage).toBeUndefined();
    advance(5 * MIN);
    expect(await describeDeployment(first)).toMatchObject({ status: 'SUCCESSFUL', targetServiceRevision: { runningTaskCount: 2 } });
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', desiredCount: 3 }));
    const second = await deploy('web', SAMPLE.images.webPrevious);
    const list = async (extra: object = {}) =>
      (await ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'web', ...extra }))).serviceDeployments!.map((d) => d.serviceDeploymentArn);
    expect(await list()).toEqual([second, first]);
    expect(await list({ status: ['SUCCESSFUL'] })).toEqual([first]);
    expect(await list({ createdAt: { after: new Date(emu.clock.now() - MIN) } })).toEqual([second]);
    const page = await ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'web', maxResults: 1 }));
    expect(page.serviceDeployments!.map((d) => d.serviceDeploymentArn)).toEqual([second]);
    const next = await ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'web', maxResults: 1, nextToken: page.nextToken }));
    expect(next.serviceDeployments!.map((d) => d.serviceDeploymentArn)).toEqual([first]);
    const brief = page.serviceDeployments![0]!;
    expect(brief).toMatchObject({ serviceArn: SAMPLE.services.web, clusterArn: SAMPLE.clusterArn, status: 'IN_PROGRESS' });
    expect(brief.targetServiceRevisionArn).toMatch(/service-revision\/main\/web\/\d{19}$/);
  });

  it('follows the circuit breaker: STOPPED without rollback (web); rollback to the last revision with it; Stop ROLLBACK on request', async () => {
    const failed = await deploy('web', SAMPLE.images.webCrash);
    advance(10 * MIN);
    expect(await describeDeployment(failed)).toMatchObject({ status: 'STOPPED', deploymentCircuitBreaker: { status: 'MONITORING_COMPLETE' } });

    // A manual rollback of a rolling deployment returns to the last completed revision.
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: SAMPLE.taskDefinitions.web }));
    advance(10 * MIN);
    const stopped = await deploy('web', SAMPLE.images.webNext);
    advance(20 * S);
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: stopped }));
    expect((await describeDeployment(stopped)).status).toBe('ROLLBACK_IN_PROGRESS');
    advance(10 * MIN);
    const back = await describeDeployment(stopped);
    expect(back.status).toBe('ROLLBACK_SUCCESSFUL');
    expect(back.rollback!.serviceRevisionArn).toBe(back.sourceServiceRevisions![0]!.arn);
    expect((await service('web')).taskDefinition).toBe(SAMPLE.taskDefinitions.web);
  });
});

describe('refusals', () => {
  const strategyError = async (deploymentConfiguration: DeploymentConfiguration, name = 'web-bg') =>
    ecs.send(new UpdateServiceCommand({ cluster: 'main', service: name, deploymentConfiguration })).then(
      () => 'accepted',
      (e: Error) => `${e.name}: ${e.message}`,
    );

  it('validates strategies, bake times, linear/canary ranges and lifecycle hooks', async () => {
    expect(
      await strategyError({
        strategy: 'BLUE_GREEN',
        bakeTimeInMinutes: 15,
        lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['PRODUCTION_TRAFFIC_SHIFT'] }],
      }),
    ).toBe('InvalidParameterException: PAUSE lifecycle hooks cannot be configured at PRODUCTION_TRAFFIC_SHIFT; only AWS_LAMBDA hooks can.');
    expect(await strategyError({ lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['TEST_TRAFFIC_SHIFT'] }] })).toMatch(
      /cannot be configured at TEST_TRAFFIC_SHIFT/,
    );
    expect(await strategyError({ lifecycleHooks: [{ targetType: 'AWS_LAMBDA', lifecycleStages: ['TEST_TRAFFIC_SHIFT'] }] })).toMatch(
      /requires a Lambda function hookTargetArn/,
    );
    expect(await strategyError({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 2 } })).toBe(
      'InvalidParameterException: linearConfiguration.stepPercent must be a multiple of 0.1 between 3.0 and 100.0.',
    );
    expect(await strategyError({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 5.05 } })).toMatch(/canaryPercent must be a multiple of 0.1/);
    expect(await strategyError({ strategy: 'CANARY', canaryConfiguration: { canaryBakeTimeInMinutes: 1441 } })).toMatch(/between 0 and 1440/);
    expect(await strategyError({ strategy: 'BLUE_GREEN', linearConfiguration: { stepPercent: 10 } })).toMatch(
      /linearConfiguration is only valid with the LINEAR/,
    );
    expect(await strategyError({ strategy: 'ROLLING', bakeTimeInMinutes: 5 }, 'web')).toBe('accepted');
    // Going back to ROLLING keeps web-bg's pause hook, which rolling deployments do not run.
    expect(await strategyError({ strategy: 'ROLLING' })).toMatch(/lifecycleHooks are only supported with the BLUE_GREEN, LINEAR and CANARY/);
    // web has no alternate target group: no traffic shifting without one.
    expect(await strategyError({ strategy: 'CANARY' }, 'web')).toMatch(/requires load balancers with an advancedConfiguration/);
    expect(await strategyError({ strategy: 'BLUE_GREEN' }, 'manager')).toMatch(/bakeTimeInMinutes must be provided/);
    // CodeDeploy services cannot take an ECS strategy.
    const legacy = await ecs
      .send(new UpdateServiceCommand({ cluster: SAMPLE.legacyCluster, service: 'legacy', deploymentConfiguration: { strategy: 'CANARY' } }))
      .catch((e: Error) => e.message);
    expect(legacy).toBe('The CANARY deployment strategy is only supported with the ECS deployment controller.');
  });

  it('validates advancedConfiguration on CreateService', async () => {
    const [blue, green] = SAMPLE.nativeTargetGroupArns.webBg;
    const create = (advancedConfiguration: object) =>
      ecs
        .send(
          new CreateServiceCommand({
            cluster: 'main',
            serviceName: 'web-bg-2',
            taskDefinition: SAMPLE.taskDefinitions.web,
            desiredCount: 1,
            launchType: 'FARGATE',
            networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1b2c3d4e5f60718'] } },
            loadBalancers: [{ targetGroupArn: blue, containerName: 'app', containerPort: 8080, advancedConfiguration }],
            deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0 },
          }),
        )
        .then(
          (r) => r.service!.deploymentConfiguration!.strategy!,
          (e: Error) => e.message,
        );
    const good = {
      alternateTargetGroupArn: green,
      productionListenerRule: SAMPLE.listenerRules.webBgProduction,
      roleArn: SAMPLE.loadBalancerInfrastructureRole,
    };
    expect(await create({ ...good, alternateTargetGroupArn: blue })).toMatch(/must differ from targetGroupArn/);
    expect(await create({ ...good, productionListenerRule: 'rule-1' })).toMatch(/productionListenerRule must be a listener or listener rule ARN/);
    expect(await create({ ...good, roleArn: undefined })).toMatch(/roleArn must be a valid IAM role ARN/);
    expect(await create({ ...good, alternateTargetGroupArn: `${green}0` })).toMatch(/does not exist/);
    expect(await create(good)).toBe('BLUE_GREEN');
    // The first deployment has no blue to shift from: its tasks start as a rolling deployment's do.
    advance(45 * S);
    const [first] = (await ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'web-bg-2' }))).serviceDeployments!;
    const described = await describeDeployment(first!.serviceDeploymentArn!);
    expect(described).toMatchObject({ status: 'SUCCESSFUL', sourceServiceRevisions: [], targetServiceRevision: { runningTaskCount: 1 } });
    expect(described.lifecycleStage).toBeUndefined();
  });

  it('answers unknown deployments, hooks and stop types as the API documents', async () => {
    const unknown = 'arn:aws:ecs:us-east-1:111111111111:service-deployment/main/web-bg/AAAAAAAA-aaaaaaaaaaaa';
    await expect(ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: unknown }))).rejects.toMatchObject({
      name: 'ServiceDeploymentNotFoundException',
    });
    await expect(ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: unknown, hookId: 'ecs-pause-x' }))).rejects.toMatchObject({
      name: 'ServiceDeploymentNotFoundException',
    });
    expect(await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [unknown] }))).toMatchObject({
      serviceDeployments: [],
      failures: [{ arn: unknown, reason: 'MISSING' }],
    });
    const arn = await deploy('web-bg');
    // Not paused yet (scaling up): no hook awaits action.
    await expect(ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: 'ecs-pause-x' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ABORT' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(ecs.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'nope' }))).rejects.toMatchObject({ name: 'ServiceNotFoundException' });
    await expect(ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: Array.from({ length: 21 }, () => arn) }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });
});

describe('IAM', () => {
  it('authorizes each action on the resources IAM’s data lists: the service to list; the service and the service deployment to describe, stop or continue', async () => {
    const arn = await deploy('web-bg');
    const role = putRole(emu.state, '111111111111', 'deployments-reader', {
      trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
      inline: {
        read: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['ecs:ListServiceDeployments', 'ecs:DescribeServiceDeployments'], Resource: '*' }] as never,
        },
      },
    });
    emu.authority.enforce(role.arn);
    const { accessKeyId, secretAccessKey } = emu.state.issueCredentials(role, 'reader');
    const reader = new ECSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    await reader.send(new ListServiceDeploymentsCommand({ cluster: 'main', service: 'web-bg' }));
    await reader.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
    const refused = await reader.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn })).catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'AccessDeniedException' });
    expect((refused as Error).message).toContain(`ecs:StopServiceDeployment on resource: ${SAMPLE.services.webBg}`);
    const continued = await reader.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: 'x' })).catch((e: Error) => e);
    expect((continued as Error).message).toContain(`ecs:ContinueServiceDeployment on resource: ${SAMPLE.services.webBg}`);
    expect(emu.authority.decisions.map((d) => `${d.action} ${d.resource} ${d.decision}`)).toEqual([
      `ecs:ListServiceDeployments ${SAMPLE.services.webBg} allowed`,
      `ecs:DescribeServiceDeployments ${SAMPLE.services.webBg} allowed`,
      `ecs:DescribeServiceDeployments ${arn} allowed`,
      `ecs:StopServiceDeployment ${SAMPLE.services.webBg} implicitDeny`,
      `ecs:ContinueServiceDeployment ${SAMPLE.services.webBg} implicitDeny`,
    ]);
    reader.destroy();
  });
});
