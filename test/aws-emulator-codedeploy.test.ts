/**
 * CodeDeploy blue/green deployments of the seeded CODE_DEPLOY service `legacy` (cluster blue-green),
 * through the real SDK clients, as ecspresso drives them: discovery (applications → deployment groups
 * → the group whose ecsServices name the service), CreateDeployment with an AppSpec, the lifecycle
 * events and traffic weights over emulator time (clock rate 0: it moves only with clock.advance),
 * a failing image rolled back, StopDeployment with and without rollback, errors, and IAM.
 *
 * Default timings: the replacement's tasks pass health checks 45 s after launch, a traffic shift takes
 * 15 s, the seeded group waits 5 minutes before terminating the original task set.
 */
import {
  BatchGetApplicationsCommand,
  BatchGetDeploymentGroupsCommand,
  CodeDeployClient,
  ContinueDeploymentCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentTargetCommand,
  ListApplicationsCommand,
  ListDeploymentGroupsCommand,
  ListDeploymentsCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  type DeploymentInfo,
  type ECSTarget,
} from '@aws-sdk/client-codedeploy';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { codeDeployState } from '../local/aws/codedeploy';
import { putRole } from '../local/aws/services/iam';

const S = 1000;
const MIN = 60 * S;
const CLUSTER = SAMPLE.legacyCluster;
const { application: APP, deploymentGroup: GROUP } = SAMPLE.codeDeploy;
const TARGET = `${CLUSTER}:legacy`;
const [BLUE_TG, GREEN_TG] = SAMPLE.legacyTargetGroupArns as [string, string];
const GROUP_ARN = `arn:aws:codedeploy:us-east-1:111111111111:deploymentgroup:${APP}/${GROUP}`;

let [emu, ecs, cd, elb] = [] as unknown as [AwsEmulator, ECSClient, CodeDeployClient, ElasticLoadBalancingV2Client];

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  const config = { region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 };
  [ecs, cd, elb] = [new ECSClient(config), new CodeDeployClient(config), new ElasticLoadBalancingV2Client(config)];
});
afterEach(async () => {
  for (const client of [ecs, cd, elb]) client.destroy();
  await emu.close();
});

/** A new revision of `legacy` running `image`; returns its ARN. */
async function registerLegacy(image: string): Promise<string> {
  const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'legacy' }))).taskDefinition!;
  const input = { ...current, containerDefinitions: current.containerDefinitions!.map((c) => ({ ...c, image })) };
  return (await ecs.send(new RegisterTaskDefinitionCommand(input as RegisterTaskDefinitionCommandInput))).taskDefinition!.taskDefinitionArn!;
}

/** The AppSpec ecspresso writes for a task definition (appspec/spec.go). */
const appSpec = (taskDefinition: string) =>
  [
    'version: "0.0"',
    'Resources:',
    '  - TargetService:',
    '      Type: AWS::ECS::Service',
    '      Properties:',
    `        TaskDefinition: ${taskDefinition}`,
    '        LoadBalancerInfo:',
    '          ContainerName: app',
    '          ContainerPort: 8080',
    '        PlatformVersion: LATEST',
    '',
  ].join('\n');

async function deploy(image: string, extra: { deploymentConfigName?: string; autoRollback?: boolean } = {}): Promise<{ id: string; taskDefinition: string }> {
  const taskDefinition = await registerLegacy(image);
  const { deploymentId } = await cd.send(
    new CreateDeploymentCommand({
      applicationName: APP,
      deploymentGroupName: GROUP,
      ...(extra.deploymentConfigName ? { deploymentConfigName: extra.deploymentConfigName } : {}),
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(taskDefinition) } },
      ...(extra.autoRollback !== undefined
        ? { autoRollbackConfiguration: { enabled: extra.autoRollback, events: extra.autoRollback ? ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] : [] } }
        : {}),
    }),
  );
  return { id: deploymentId!, taskDefinition };
}

const deployment = async (id: string): Promise<DeploymentInfo> => (await cd.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo!;
const target = async (id: string): Promise<ECSTarget> =>
  (await cd.send(new GetDeploymentTargetCommand({ deploymentId: id, targetId: TARGET }))).deploymentTarget!.ecsTarget!;
/** `Name:Status` of each lifecycle event, in order. */
const events = (t: ECSTarget) => t.lifecycleEvents!.map((e) => `${e.lifecycleEventName}:${e.status}`);
/** `Label status weight running` of each task set. */
const sets = (t: ECSTarget) => t.taskSetsInfo!.map((s) => `${s.taskSetLabel} ${s.status} ${s.trafficWeight} ${s.runningCount}`);
const legacy = async (): Promise<Service> => (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: ['legacy'] }))).services![0]!;
const healthyIn = async (targetGroupArn: string) =>
  (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }))).TargetHealthDescriptions!.filter(
    (t) => t.TargetHealth?.State === 'healthy',
  ).length;
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => new Error('no error'),
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
  );

describe('discovery, as ecspresso finds the application and group of a service', () => {
  it('lists ECS applications, then the deployment group whose ecsServices name the cluster and service', async () => {
    const { applications } = await cd.send(new ListApplicationsCommand({}));
    expect(applications).toEqual([APP]);
    const { applicationsInfo } = await cd.send(new BatchGetApplicationsCommand({ applicationNames: applications }));
    expect(applicationsInfo).toEqual([expect.objectContaining({ applicationName: APP, computePlatform: 'ECS', linkedToGitHub: false })]);
    const { deploymentGroups } = await cd.send(new ListDeploymentGroupsCommand({ applicationName: APP }));
    expect(deploymentGroups).toEqual([GROUP]);
    const { deploymentGroupsInfo } = await cd.send(new BatchGetDeploymentGroupsCommand({ applicationName: APP, deploymentGroupNames: deploymentGroups }));
    const group = deploymentGroupsInfo!.find((g) => g.ecsServices?.some((s) => s.clusterName === CLUSTER && s.serviceName === 'legacy'));
    expect(group).toMatchObject({
      deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
      computePlatform: 'ECS',
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      loadBalancerInfo: {
        targetGroupPairInfoList: [
          { targetGroups: [{ name: 'legacy-blue' }, { name: 'legacy-green' }], prodTrafficRoute: { listenerArns: [SAMPLE.codeDeploy.productionListener] } },
        ],
      },
      blueGreenDeploymentConfiguration: { terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE', terminationWaitTimeInMinutes: 5 } },
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
      lastSuccessfulDeployment: { deploymentId: SAMPLE.codeDeploy.lastDeployment, status: 'Succeeded' },
    });
    // The deployment that created the running task set is history; nothing is active.
    const { deployments } = await cd.send(new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP }));
    expect(deployments).toEqual([SAMPLE.codeDeploy.lastDeployment]);
    const active = await cd.send(
      new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP, includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Ready'] }),
    );
    expect(active.deployments).toEqual([]);
    expect(await deployment(SAMPLE.codeDeploy.lastDeployment)).toMatchObject({ status: 'Succeeded', computePlatform: 'ECS', creator: 'user' });
    const last = (await cd.send(new GetDeploymentTargetCommand({ deploymentId: SAMPLE.codeDeploy.lastDeployment, targetId: TARGET }))).deploymentTarget!;
    expect(last.deploymentTargetType).toBe('ECSTarget');
    expect(sets(last.ecsTarget!)).toEqual(['Green PRIMARY 100 2']);
    expect(last.ecsTarget!.taskSetsInfo![0]).toMatchObject({ identifer: SAMPLE.deployments.legacyTaskSet, targetGroup: { name: 'legacy-blue' } });
  });
});

describe('a deployment', () => {
  it('installs a replacement task set, shifts all traffic at once, waits, then terminates the original: Succeeded', async () => {
    const { id, taskDefinition } = await deploy(`${SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0')}`);
    expect(await deployment(id)).toMatchObject({
      status: 'InProgress',
      deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(taskDefinition) } },
      previousRevision: { revisionType: 'AppSpecContent', appSpecContent: { content: expect.stringContaining(SAMPLE.taskDefinitions.legacy) } },
      deploymentStyle: { deploymentType: 'BLUE_GREEN' },
      computePlatform: 'ECS',
    });
    expect((await cd.send(new ListDeploymentTargetsCommand({ deploymentId: id }))).targetIds).toEqual([TARGET]);
    let t = await target(id);
    expect(t).toMatchObject({ deploymentId: id, targetId: TARGET, targetArn: SAMPLE.services.legacy, status: 'InProgress' });
    expect(events(t).slice(0, 3)).toEqual(['BeforeInstall:Succeeded', 'Install:InProgress', 'AfterInstall:Pending']);
    expect(sets(t)).toEqual(['Blue PRIMARY 100 2', 'Green ACTIVE 0 0']);

    // 45 s: the replacement's tasks pass health checks (in legacy-green); test traffic has no listener; production shifts.
    emu.clock.advance(45 * S);
    t = await target(id);
    expect(events(t)).toEqual([
      'BeforeInstall:Succeeded',
      'Install:Succeeded',
      'AfterInstall:Succeeded',
      'AllowTestTraffic:Succeeded',
      'AfterAllowTestTraffic:Succeeded',
      'BeforeAllowTraffic:Succeeded',
      'AllowTraffic:InProgress',
      'AfterAllowTraffic:Pending',
    ]);
    expect(await healthyIn(GREEN_TG)).toBe(2);
    expect(await healthyIn(BLUE_TG)).toBe(2);

    // 60 s: all traffic on Green, now the primary task set; the original waits out its 5 minutes.
    emu.clock.advance(15 * S);
    t = await target(id);
    expect(events(t).at(-1)).toBe('AfterAllowTraffic:Succeeded');
    expect(sets(t)).toEqual(['Blue ACTIVE 0 2', 'Green PRIMARY 100 2']);
    expect(await deployment(id)).toMatchObject({ status: 'InProgress', instanceTerminationWaitTimeStarted: true });
    let service = await legacy();
    expect(service.taskDefinition).toBe(taskDefinition);
    expect(service.taskSets!.map((s) => s.status)).toEqual(['PRIMARY', 'ACTIVE']);
    expect(service.loadBalancers).toEqual([{ targetGroupArn: GREEN_TG, containerName: 'app', containerPort: 8080 }]);

    // One deployment at a time per group.
    const second = await refusal(
      cd.send(
        new CreateDeploymentCommand({
          applicationName: APP,
          deploymentGroupName: GROUP,
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(taskDefinition) } },
        }),
      ),
    );
    expect(second).toMatchObject({
      name: 'DeploymentLimitExceededException',
      message: `The Deployment Group '${GROUP}' already has an active Deployment '${id}'`,
    });

    emu.clock.advance(5 * MIN);
    const done = await deployment(id);
    expect(done).toMatchObject({ status: 'Succeeded', deploymentOverview: { Succeeded: 1, InProgress: 0 } });
    expect(done.completeTime).toBeInstanceOf(Date);
    service = await legacy();
    expect(service.taskSets!.map((s) => [s.status, s.taskDefinition, s.externalId])).toEqual([['PRIMARY', taskDefinition, id]]);
    emu.clock.advance(15 * S); // the original's tasks drain
    expect(await healthyIn(BLUE_TG)).toBe(0);
    expect((await legacy()).runningCount).toBe(2);
    const list = await cd.send(new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP, includeOnlyStatuses: ['Succeeded'] }));
    expect(list.deployments).toEqual([id, SAMPLE.codeDeploy.lastDeployment]);
  });

  it('shifts canary traffic in two steps per its deployment config; ContinueDeployment TERMINATION_WAIT ends the wait', async () => {
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'), { deploymentConfigName: 'CodeDeployDefault.ECSCanary10Percent5Minutes' });
    emu.clock.advance(60 * S);
    expect(sets(await target(id))).toEqual(['Blue PRIMARY 90 2', 'Green ACTIVE 10 2']);
    emu.clock.advance(5 * MIN);
    expect(sets(await target(id))).toEqual(['Blue PRIMARY 90 2', 'Green ACTIVE 10 2']); // the second shift under way
    emu.clock.advance(15 * S);
    expect(sets(await target(id))).toEqual(['Blue ACTIVE 0 2', 'Green PRIMARY 100 2']);
    const early = await refusal(cd.send(new ContinueDeploymentCommand({ deploymentId: id, deploymentWaitType: 'READY_WAIT' })));
    expect(early).toMatchObject({ name: 'DeploymentIsNotInReadyStateException' });
    await cd.send(new ContinueDeploymentCommand({ deploymentId: id, deploymentWaitType: 'TERMINATION_WAIT' }));
    expect((await deployment(id)).status).toBe('Succeeded');
    expect((await legacy()).taskSets).toHaveLength(1);
  });

  it('waits in Ready when the group says so, until ContinueDeployment READY_WAIT', async () => {
    const group = codeDeployState(emu.state.region('111111111111', 'us-east-1')).groups.get(`${APP}/${GROUP}`)!;
    group.blueGreenDeploymentConfiguration.deploymentReadyOption = { actionOnTimeout: 'STOP_DEPLOYMENT', waitTimeInMinutes: 30 };
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    emu.clock.advance(10 * MIN);
    expect(await deployment(id)).toMatchObject({ status: 'Ready', deploymentOverview: { Ready: 1 } });
    expect(events(await target(id)).slice(5)).toEqual(['BeforeAllowTraffic:Succeeded', 'AllowTraffic:Pending', 'AfterAllowTraffic:Pending']);
    await cd.send(new ContinueDeploymentCommand({ deploymentId: id, deploymentWaitType: 'READY_WAIT' }));
    expect((await deployment(id)).status).toBe('InProgress');
    emu.clock.advance(15 * S);
    expect(sets(await target(id))).toEqual(['Blue ACTIVE 0 2', 'Green PRIMARY 100 2']);
  });
});

describe('waits of the deployment group', () => {
  const group = () => codeDeployState(emu.state.region('111111111111', 'us-east-1')).groups.get(`${APP}/${GROUP}`)!;

  it('shifts test traffic first when the group has a test listener', async () => {
    group().loadBalancerInfo.targetGroupPairInfoList[0]!.testTrafficRoute = { listenerArns: [`${SAMPLE.codeDeploy.productionListener.slice(0, -4)}0001`] };
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    emu.clock.advance(45 * S);
    expect(events(await target(id)).slice(3, 5)).toEqual(['AllowTestTraffic:InProgress', 'AfterAllowTestTraffic:Pending']);
    emu.clock.advance(15 * S);
    expect(events(await target(id)).slice(3, 7)).toEqual([
      'AllowTestTraffic:Succeeded',
      'AfterAllowTestTraffic:Succeeded',
      'BeforeAllowTraffic:Succeeded',
      'AllowTraffic:InProgress',
    ]);
  });

  it('stops a Ready deployment whose wait ends without ContinueDeployment; the original keeps serving', async () => {
    group().blueGreenDeploymentConfiguration.deploymentReadyOption = { actionOnTimeout: 'STOP_DEPLOYMENT', waitTimeInMinutes: 30 };
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    emu.clock.advance(45 * S + 30 * MIN);
    expect(await deployment(id)).toMatchObject({ status: 'Stopped', errorInformation: { code: 'TIMEOUT' } });
    expect((await legacy()).taskSets!.map((s) => s.id)).toEqual([SAMPLE.deployments.legacyTaskSet]);
  });
});

describe('failure and rollback', () => {
  it('an image that cannot be pulled fails the deployment after the 60-minute timeout; auto rollback deletes the replacement', async () => {
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'does-not-exist'));
    emu.clock.advance(30 * MIN);
    expect(await deployment(id)).toMatchObject({ status: 'InProgress' });
    expect(sets(await target(id))).toEqual(['Blue PRIMARY 100 2', 'Green ACTIVE 0 0']);
    emu.clock.advance(30 * MIN);
    const failed = await deployment(id);
    expect(failed).toMatchObject({
      status: 'Failed',
      errorInformation: {
        code: 'ECS_UPDATE_ERROR',
        message: 'The deployment timed out while waiting for the replacement task set to become healthy. This time out period is 60 minutes.',
      },
    });
    expect(events(await target(id)).slice(0, 3)).toEqual(['BeforeInstall:Succeeded', 'Install:Failed', 'AfterInstall:Pending']);
    const rollbackId = failed.rollbackInfo!.rollbackDeploymentId!;
    const rollback = await deployment(rollbackId);
    expect(rollback).toMatchObject({ status: 'Succeeded', creator: 'codeDeployRollback', rollbackInfo: { rollbackTriggeringDeploymentId: id } });
    expect(rollback.revision!.appSpecContent!.content).toContain(SAMPLE.taskDefinitions.legacy);
    const service = await legacy();
    expect(service.taskDefinition).toBe(SAMPLE.taskDefinitions.legacy);
    expect(service.taskSets!.map((s) => [s.id, s.status])).toEqual([[SAMPLE.deployments.legacyTaskSet, 'PRIMARY']]);
    expect(await healthyIn(BLUE_TG)).toBe(2);
  });

  it('StopDeployment with rollback, mid-shift: Stopped, and a rollback deployment shifts the traffic back', async () => {
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'), {
      deploymentConfigName: 'CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
    });
    emu.clock.advance(60 * S + 75 * S); // healthy at 45 s, 10% at 60 s, 20% at 2:15
    expect(sets(await target(id))).toEqual(['Blue PRIMARY 80 2', 'Green ACTIVE 20 2']);
    const stop = await cd.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true }));
    expect(stop.status).toBe('Pending');
    const stopped = await deployment(id);
    expect(stopped).toMatchObject({ status: 'Stopped', errorInformation: { code: 'MANUAL_STOP' } });
    const rollbackId = stopped.rollbackInfo!.rollbackDeploymentId!;
    expect(await deployment(rollbackId)).toMatchObject({ status: 'InProgress', creator: 'codeDeployRollback' });
    // ecspresso's rollback finds the active one and waits for it.
    const active = await cd.send(new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP, includeOnlyStatuses: ['InProgress'] }));
    expect(active.deployments).toEqual([rollbackId]);
    emu.clock.advance(15 * S);
    expect(await deployment(rollbackId)).toMatchObject({ status: 'Succeeded' });
    const rolledBack = await target(rollbackId);
    expect(events(rolledBack).filter((e) => !e.endsWith(':Skipped'))).toEqual(['AllowTraffic:Succeeded']);
    expect(sets(rolledBack)).toEqual(['Blue PRIMARY 100 2']);
    expect((await legacy()).taskDefinition).toBe(SAMPLE.taskDefinitions.legacy);
    const again = await refusal(cd.send(new StopDeploymentCommand({ deploymentId: id })));
    expect(again).toMatchObject({ name: 'DeploymentAlreadyCompletedException' });
  });

  it('StopDeployment with rollback during the termination wait: the original is primary again, with its task definition', async () => {
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    emu.clock.advance(60 * S);
    expect((await legacy()).taskSets!.map((s) => s.status)).toEqual(['PRIMARY', 'ACTIVE']);
    await cd.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true }));
    const rollbackId = (await deployment(id)).rollbackInfo!.rollbackDeploymentId!;
    emu.clock.advance(15 * S);
    expect((await deployment(rollbackId)).status).toBe('Succeeded');
    const service = await legacy();
    expect(service.taskDefinition).toBe(SAMPLE.taskDefinitions.legacy);
    expect(service.taskSets!.map((s) => [s.id, s.status])).toEqual([[SAMPLE.deployments.legacyTaskSet, 'PRIMARY']]);
    expect(service.loadBalancers).toEqual([{ targetGroupArn: BLUE_TG, containerName: 'app', containerPort: 8080 }]);
  });

  it('StopDeployment without rollback: Stopped at once (Succeeded), the original keeps serving', async () => {
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'), { autoRollback: false });
    emu.clock.advance(30 * S);
    const stop = await cd.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: false }));
    expect(stop.status).toBe('Succeeded');
    const stopped = await deployment(id);
    expect(stopped.status).toBe('Stopped');
    expect(stopped.rollbackInfo).toBeUndefined();
    expect((await legacy()).taskSets!.map((s) => s.id)).toEqual([SAMPLE.deployments.legacyTaskSet]);
  });
});

describe('errors', () => {
  it('answers bad requests with the API’s exceptions', async () => {
    const revision = { revisionType: 'AppSpecContent' as const, appSpecContent: { content: appSpec(SAMPLE.taskDefinitions.legacy) } };
    const create = (input: Partial<ConstructorParameters<typeof CreateDeploymentCommand>[0]>) =>
      refusal(cd.send(new CreateDeploymentCommand({ applicationName: APP, deploymentGroupName: GROUP, revision, ...input })));
    expect(await create({ applicationName: 'nope' })).toMatchObject({ name: 'ApplicationDoesNotExistException', $metadata: { httpStatusCode: 400 } });
    expect(await create({ deploymentGroupName: 'nope' })).toMatchObject({ name: 'DeploymentGroupDoesNotExistException' });
    expect(await create({ deploymentConfigName: 'CodeDeployDefault.OneAtATime' })).toMatchObject({ name: 'DeploymentConfigDoesNotExistException' });
    expect(await create({ revision: { revisionType: 'AppSpecContent', appSpecContent: { content: 'version: 0.0\nResources: []\n' } } })).toMatchObject({
      name: 'InvalidRevisionException',
    });
    expect(await create({ autoRollbackConfiguration: { enabled: true, events: [] } })).toMatchObject({ name: 'InvalidAutoRollbackConfigException' });
    expect(await refusal(cd.send(new GetDeploymentCommand({ deploymentId: 'd-AAAAAAAAA' })))).toMatchObject({ name: 'DeploymentDoesNotExistException' });
    expect(await refusal(cd.send(new GetDeploymentCommand({ deploymentId: 'nope' })))).toMatchObject({ name: 'InvalidDeploymentIdException' });
    expect(await refusal(cd.send(new ListDeploymentsCommand({ applicationName: APP })))).toMatchObject({ name: 'DeploymentGroupNameRequiredException' });
    expect(
      await refusal(cd.send(new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP, includeOnlyStatuses: ['Done' as never] }))),
    ).toMatchObject({ name: 'InvalidDeploymentStatusException' });
    expect(await refusal(cd.send(new GetDeploymentTargetCommand({ deploymentId: SAMPLE.codeDeploy.lastDeployment, targetId: 'main:web' })))).toMatchObject({
      name: 'DeploymentTargetDoesNotExistException',
    });
    expect(await refusal(cd.send(new BatchGetApplicationsCommand({ applicationNames: ['nope'] })))).toMatchObject({
      name: 'ApplicationDoesNotExistException',
    });
    // A task definition CodeDeploy cannot use fails the deployment, not the call.
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: APP,
        deploymentGroupName: GROUP,
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(SAMPLE.taskDefinitions.legacy.replace(':12', ':99')) } },
      }),
    );
    expect(await deployment(deploymentId!)).toMatchObject({ status: 'Failed', errorInformation: { code: 'ECS_UPDATE_ERROR' } });
  });

  it('StopDeployment refuses as the SDK model says: no id, a malformed or unknown one, a deleted group; nothing is stopped', async () => {
    const stop = (deploymentId: string | undefined) =>
      refusal(cd.send(new StopDeploymentCommand({ deploymentId: deploymentId as string, autoRollbackEnabled: true })));
    expect(await stop(undefined)).toMatchObject({ name: 'DeploymentIdRequiredException', $metadata: { httpStatusCode: 400 } });
    expect(await stop('nope')).toMatchObject({ name: 'InvalidDeploymentIdException' });
    expect(await stop('d-AAAAAAAAA')).toMatchObject({ name: 'DeploymentDoesNotExistException' });
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    const groups = codeDeployState(emu.state.region('111111111111', 'us-east-1')).groups;
    const group = groups.get(`${APP}/${GROUP}`)!;
    groups.delete(`${APP}/${GROUP}`);
    try {
      expect(await stop(id)).toMatchObject({ name: 'DeploymentGroupDoesNotExistException', message: `No Deployment Group found for name: ${GROUP}` });
    } finally {
      groups.set(`${APP}/${GROUP}`, group);
    }
    expect(await deployment(id)).toMatchObject({ status: 'InProgress' });
  });

  it('a group whose ECS service or target groups are wrong fails the deployment, not the call', async () => {
    const group = codeDeployState(emu.state.region('111111111111', 'us-east-1')).groups.get(`${APP}/${GROUP}`)!;
    const create = async () => {
      const { deploymentId } = await cd.send(
        new CreateDeploymentCommand({
          applicationName: APP,
          deploymentGroupName: GROUP,
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(SAMPLE.taskDefinitions.legacy) } },
        }),
      );
      return deployment(deploymentId!);
    };
    group.ecsServices = [{ serviceName: 'web', clusterName: 'main' }];
    expect(await create()).toMatchObject({ status: 'Failed', errorInformation: { code: 'INVALID_ECS_SERVICE' } });
    group.ecsServices = [{ serviceName: 'legacy', clusterName: CLUSTER }];
    group.loadBalancerInfo.targetGroupPairInfoList[0]!.targetGroups = [{ name: 'legacy-blue' }, { name: 'gone' }];
    expect(await create()).toMatchObject({ status: 'Failed', errorInformation: { code: 'ELASTIC_LOAD_BALANCING_INVALID' } });
    expect((await legacy()).taskSets).toHaveLength(1);
  });

  it('ECS UpdateService on a CODE_DEPLOY service changes the count only, which its task sets follow', async () => {
    const update = (input: Partial<ConstructorParameters<typeof UpdateServiceCommand>[0]>) =>
      refusal(ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'legacy', ...input })));
    for (const input of [
      { networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } } },
      { platformVersion: '1.4.0' },
      { loadBalancers: [{ targetGroupArn: GREEN_TG, containerName: 'app', containerPort: 8080 }] },
    ]) {
      const error = await update(input);
      expect(error).toMatchObject({ name: 'InvalidParameterException' });
      expect(error.message).toContain('CODE_DEPLOY deployment controller');
    }
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'legacy', desiredCount: 3 }));
    expect((await legacy()).desiredCount).toBe(3);
    // The task set follows the count: a third task starts, then the next deployment's replacement has three.
    emu.clock.advance(30 * S);
    let service = await legacy();
    expect([service.runningCount, service.taskSets![0]!.computedDesiredCount, service.taskSets![0]!.runningCount]).toEqual([3, 3, 3]);
    const { id } = await deploy(SAMPLE.images.legacy.replace('v3.2.0', 'v3.3.0'));
    emu.clock.advance(60 * S);
    expect(sets(await target(id))).toEqual(['Blue ACTIVE 0 3', 'Green PRIMARY 100 3']);
    await cd.send(new ContinueDeploymentCommand({ deploymentId: id, deploymentWaitType: 'TERMINATION_WAIT' }));
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'legacy', desiredCount: 1 }));
    service = await legacy();
    expect([service.runningCount, service.taskSets!.map((s) => [s.status, s.computedDesiredCount, s.runningCount])]).toEqual([1, [['PRIMARY', 1, 1]]]);
  });
});

describe('IAM', () => {
  it('authorizes on the application and deployment group ARNs IAM’s data lists', async () => {
    const role = putRole(emu.state, '111111111111', 'codedeploy-reader', {
      trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
      inline: {
        read: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['codedeploy:ListApplications', 'codedeploy:BatchGetApplications', 'codedeploy:ListDeploymentGroups'], Resource: '*' },
            { Effect: 'Allow', Action: ['codedeploy:BatchGetDeploymentGroups', 'codedeploy:GetDeployment'], Resource: GROUP_ARN },
          ] as never,
        },
      },
    });
    emu.authority.enforce(role.arn);
    const { accessKeyId, secretAccessKey } = emu.state.issueCredentials(role, 'reader');
    const reader = new CodeDeployClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    await reader.send(new BatchGetDeploymentGroupsCommand({ applicationName: APP, deploymentGroupNames: [GROUP] }));
    await reader.send(new GetDeploymentCommand({ deploymentId: SAMPLE.codeDeploy.lastDeployment }));
    const refused = await refusal(
      reader.send(
        new CreateDeploymentCommand({
          applicationName: APP,
          deploymentGroupName: GROUP,
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(SAMPLE.taskDefinitions.legacy) } },
        }),
      ),
    );
    expect(refused).toMatchObject({ name: 'AccessDeniedException' });
    expect(refused.message).toContain(`codedeploy:CreateDeployment on resource: ${GROUP_ARN}`);
    expect(emu.authority.decisions.map((d) => `${d.action} ${d.resource} ${d.decision}`)).toEqual([
      `codedeploy:BatchGetDeploymentGroups ${GROUP_ARN} allowed`,
      `codedeploy:GetDeployment ${GROUP_ARN} allowed`,
      `codedeploy:CreateDeployment ${GROUP_ARN} implicitDeny`,
    ]);
    expect((await cd.send(new ListDeploymentsCommand({ applicationName: APP, deploymentGroupName: GROUP }))).deployments).toHaveLength(1);
    reader.destroy();
  });
});
