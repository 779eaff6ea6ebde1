/**
 * ECS deployments in the local emulator, through the real SDK client: task definitions are
 * registered, UpdateService starts a rollout, and the simulated scheduler carries it out as emulator
 * time is skipped with clock.advance(). The clock runs at rate 0 (it only moves when a test moves
 * it), so every count, timestamp and event below is exact.
 *
 * Default timings: each task step takes 15 s (PROVISIONING → PENDING → RUNNING → healthy), a crash
 * image exits 5 s after RUNNING, draining takes 15 s, relaunches back off 15 s, 30 s, 60 s…
 */
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type CreateServiceCommandInput,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Clock, SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { failureThreshold } from '../local/aws/rollout';
import { VERIFY_SEED } from '../local/aws/seed-verify';

const S = 1000;
let emu: AwsEmulator;
let ecs: ECSClient;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  ecs = new ECSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
});
afterEach(async () => {
  ecs.destroy();
  await emu.close();
});

async function describe1(name = 'web', cluster = 'main'): Promise<Service> {
  return (await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }))).services![0]!;
}

/** Event messages created at or after `since`, oldest first (DescribeServices lists newest first). */
const eventsSince = (service: Service, since: number) =>
  service
    .events!.filter((e) => e.createdAt!.getTime() >= since)
    .map((e) => e.message!)
    .reverse();

async function tasksOf(service: string, desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING') {
  const { taskArns } = await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: service, desiredStatus }));
  if (!taskArns!.length) return [];
  return (await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: taskArns }))).tasks!;
}

/** A new revision of `web` running `image`: what a deploy does with the current definition. */
async function registerWeb(image: string): Promise<TaskDefinition> {
  const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition!;
  // Spreading the described definition carries read-only members too; the SDK sends only input members.
  const input = {
    ...current,
    containerDefinitions: current.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)),
  } as RegisterTaskDefinitionCommandInput;
  return (await ecs.send(new RegisterTaskDefinitionCommand(input))).taskDefinition!;
}

describe('RegisterTaskDefinition', () => {
  it('registers the next revision with everything DescribeTaskDefinition shows', async () => {
    const t0 = emu.clock.now();
    const def = await registerWeb(SAMPLE.images.webNext);
    expect(def).toMatchObject({
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:111111111111:task-definition/web:43',
      family: 'web',
      revision: 43,
      status: 'ACTIVE',
      networkMode: 'awsvpc',
      compatibilities: ['EC2', 'FARGATE'],
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      taskRoleArn: 'arn:aws:iam::111111111111:role/web-task-role',
      executionRoleArn: 'arn:aws:iam::111111111111:role/web-execution-role',
      volumes: [],
      placementConstraints: [],
      registeredBy: 'arn:aws:sts::111111111111:assumed-role/ecs-chatops-lambda/ecs-chatops',
    });
    expect(def.registeredAt!.getTime()).toBe(t0);
    expect(def.containerDefinitions!.map((c) => c.image)).toEqual([SAMPLE.images.webNext, SAMPLE.images.logRouter]);
    expect(def.requiresAttributes!.map((a) => a.name)).toEqual(
      expect.arrayContaining(['ecs.capability.execution-role-ecr-pull', 'ecs.capability.secrets.asm.environment-variables', 'ecs.capability.task-eni']),
    );
    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    expect(latest.taskDefinition).toEqual(def);
  });

  it('fills in the defaults ECS does, and keeps tags', async () => {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'worker',
        containerDefinitions: [{ name: 'main', image: 'busybox', memory: 128, portMappings: [{ containerPort: 80 }] }],
        tags: [{ key: 'team', value: 'ops' }],
      }),
    );
    expect(out.taskDefinition).toMatchObject({
      revision: 1,
      networkMode: 'bridge',
      compatibilities: ['EC2'],
      containerDefinitions: [
        { name: 'main', cpu: 0, essential: true, environment: [], mountPoints: [], volumesFrom: [], portMappings: [{ containerPort: 80, protocol: 'tcp' }] },
      ],
    });
    expect(out.tags).toEqual([{ key: 'team', value: 'ops' }]);
  });

  it('refuses invalid definitions with ECS ClientExceptions', async () => {
    const fargate = {
      family: 'api',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
    } satisfies Partial<RegisterTaskDefinitionCommandInput>;
    const cases: Array<[RegisterTaskDefinitionCommandInput, string]> = [
      [{ family: 'api', containerDefinitions: [] }, 'Container list cannot be empty.'],
      [{ ...fargate, containerDefinitions: [{ name: 'app', image: '' }] }, 'Container.image should not be null or empty.'],
      [
        {
          ...fargate,
          containerDefinitions: [
            { name: 'app', image: 'a' },
            { name: 'app', image: 'b' },
          ],
        },
        'Duplicate container name found: app.',
      ],
      [{ ...fargate, networkMode: 'bridge', containerDefinitions: [{ name: 'app', image: 'a' }] }, 'Fargate only supports network mode \u2018awsvpc\u2019.'],
      [
        { ...fargate, memory: '4096', containerDefinitions: [{ name: 'app', image: 'a' }] },
        'No Fargate configuration exists for given values: 256 CPU, 4096 memory.',
      ],
      [
        { ...fargate, containerDefinitions: [{ name: 'app', image: SAMPLE.images.web }] },
        'Fargate requires task definition to have execution role ARN to support ECR images.',
      ],
      [
        { family: 'api', containerDefinitions: [{ name: 'app', image: 'a' }] },
        "Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified.",
      ],
      [{ family: 'bad name', containerDefinitions: [{ name: 'app', image: 'a', memory: 128 }] }, 'Family may only contain'],
    ];
    for (const [input, message] of cases) {
      const err = await ecs.send(new RegisterTaskDefinitionCommand(input)).catch((e) => e);
      expect(err.name, message).toBe('ClientException');
      expect(err.message).toContain(message);
    }
    const list = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'api' }));
    expect(list.taskDefinitionArns).toEqual([]);
  });

  it('needs iam:PassRole for the roles it names', async () => {
    emu.faults.deny('iam:PassRole', { resource: '*:role/web-execution-role' });
    const err = await registerWeb(SAMPLE.images.webNext).catch((e) => e);
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toContain('is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111111111111:role/web-execution-role');
  });

  it('lists by family (ECS treats familyPrefix as the full family name), sorts, and deregisters', async () => {
    await registerWeb(SAMPLE.images.webNext);
    const asc = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web' }));
    expect(asc.taskDefinitionArns!.map((a) => a.split('/')[1])).toEqual(['web:41', 'web:42', 'web:43']);
    expect((await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'we' }))).taskDefinitionArns).toEqual([]);
    const desc = await ecs.send(new ListTaskDefinitionsCommand({ sort: 'DESC', maxResults: 2 }));
    expect(desc.taskDefinitionArns!.map((a) => a.split('/')[1])).toEqual(['web:43', 'web:42']);
    expect(desc.nextToken).toBeTruthy();

    const gone = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:41' }));
    expect(gone.taskDefinition).toMatchObject({ status: 'INACTIVE', deregisteredAt: expect.any(Date) });
    const inactive = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web', status: 'INACTIVE' }));
    expect(inactive.taskDefinitionArns).toEqual([SAMPLE.taskDefinitions.webPrevious]);
    await expect(ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web' }))).rejects.toMatchObject({ name: 'ClientException' });
    await expect(ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:99' }))).rejects.toMatchObject({
      name: 'ClientException',
      message: 'Unable to describe task definition.',
    });
    // Revisions keep counting past deregistered ones.
    expect((await registerWeb(SAMPLE.images.webNext)).revision).toBe(44);
  });
});

describe('rolling deployment', () => {
  it('starts the new revision, drains the old tasks and completes, with ECS events', async () => {
    const def = await registerWeb(SAMPLE.images.webNext);
    const oldTasks = (await tasksOf('web')).map((t) => t.taskArn!);
    const t0 = emu.clock.now();
    const { service } = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:43' }));
    const [primary, active] = service!.deployments!;
    const id = primary!.id!;
    expect(id).toMatch(/^ecs-svc\/\d{19}$/);
    expect(service!.taskDefinition).toBe(def.taskDefinitionArn);
    expect(primary).toMatchObject({
      status: 'PRIMARY',
      taskDefinition: def.taskDefinitionArn,
      desiredCount: 2,
      pendingCount: 2,
      runningCount: 0,
      failedTasks: 0,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment ${id} in progress.`,
      launchType: 'FARGATE',
      createdAt: new Date(t0),
    });
    expect(active).toMatchObject({ id: SAMPLE.deployments.web, status: 'ACTIVE', taskDefinition: SAMPLE.taskDefinitions.web, runningCount: 2 });
    expect(service!.deploymentConfiguration).toMatchObject({
      deploymentCircuitBreaker: { enable: true, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
    });

    emu.clock.advance(15 * S);
    let starting = (await tasksOf('web')).filter((t) => t.startedBy === id);
    expect(starting.map((t) => t.lastStatus)).toEqual(['PENDING', 'PENDING']);

    emu.clock.advance(15 * S);
    let web = await describe1();
    expect(web).toMatchObject({ runningCount: 4, pendingCount: 0, deployments: [{ id, runningCount: 2 }, { runningCount: 2 }] });
    starting = (await tasksOf('web')).filter((t) => t.startedBy === id);
    expect(starting[0]).toMatchObject({ lastStatus: 'RUNNING', taskDefinitionArn: def.taskDefinitionArn, startedAt: new Date(t0 + 30 * S) });
    expect(starting[0]!.containers![0]).toMatchObject({
      image: SAMPLE.images.webNext,
      lastStatus: 'RUNNING',
      managedAgents: [{ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING' }],
    });

    emu.clock.advance(15 * S); // new tasks pass health checks: the old ones drain
    const draining = await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: oldTasks }));
    expect(draining.tasks!.map((t) => [t.desiredStatus, t.lastStatus])).toEqual([
      ['STOPPED', 'DEACTIVATING'],
      ['STOPPED', 'DEACTIVATING'],
    ]);

    emu.clock.advance(15 * S);
    web = await describe1();
    expect(web.deployments).toEqual([
      expect.objectContaining({ id, status: 'PRIMARY', rolloutState: 'COMPLETED', rolloutStateReason: `ECS deployment ${id} completed.`, runningCount: 2 }),
    ]);
    expect(web.deployments![0]!.updatedAt).toEqual(new Date(t0 + 60 * S));
    expect(web).toMatchObject({ runningCount: 2, pendingCount: 0, taskDefinition: def.taskDefinitionArn });

    const started = starting.map((t) => `(task ${t.taskArn!.split('/').pop()})`).join(' ');
    const stopped = oldTasks.map((a) => `(task ${a.split('/').pop()})`);
    const tg = `(target-group ${SAMPLE.targetGroupArn})`;
    expect(eventsSince(web, t0)).toEqual([
      `(service web) has started 2 tasks: ${started}.`,
      `(service web) registered 2 targets in ${tg}`,
      expect.stringMatching(
        new RegExp(`^\\(service web\\) has stopped 2 running tasks: (${stopped.join('|').replace(/[()]/g, '\\$&')}) (\\(task \\w+\\))\\.$`),
      ),
      `(service web) deregistered 2 targets in ${tg}`,
      '(service web) has begun draining connections on 2 tasks.',
      `(service web) (deployment ${id}) deployment completed.`,
      '(service web) has reached a steady state.',
    ]);

    const old = await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: oldTasks }));
    for (const task of old.tasks!) {
      expect(task).toMatchObject({
        lastStatus: 'STOPPED',
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: `Scaling activity initiated by (deployment ${id})`,
        stoppingAt: new Date(t0 + 45 * S),
        stoppedAt: new Date(t0 + 60 * S),
      });
      expect(task.containers![0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    }
    // Nothing more happens once steady.
    emu.clock.advance(3_600 * S);
    expect((await describe1()).events!.length).toBe(web.events!.length);
  });

  it('gets the same result whether time is skipped at once or step by step', async () => {
    await registerWeb(SAMPLE.images.webNext);
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:43' }));
    emu.clock.advance(59 * S);
    expect((await describe1()).deployments![0]!.rolloutState).toBe('IN_PROGRESS');
    emu.clock.advance(1 * S);
    expect((await describe1()).deployments).toMatchObject([{ rolloutState: 'COMPLETED' }]);
  });

  it('scales with desiredCount without a new deployment', async () => {
    const t0 = emu.clock.now();
    const up = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', desiredCount: 3 }));
    expect(up.service!.deployments).toMatchObject([{ id: SAMPLE.deployments.web, desiredCount: 3, pendingCount: 1, rolloutState: 'COMPLETED' }]);
    emu.clock.advance(45 * S);
    let web = await describe1();
    expect(web).toMatchObject({ desiredCount: 3, runningCount: 3, deployments: [{ runningCount: 3 }] });
    expect(eventsSince(web, t0)).toEqual([
      expect.stringMatching(/^\(service web\) has started 1 tasks: \(task [0-9a-f]{32}\)\.$/),
      expect.stringMatching(/^\(service web\) registered 1 targets in/),
      '(service web) has reached a steady state.',
    ]);

    emu.clock.advance(1 * S); // so the events below are told apart from the steady state just reached
    const t1 = emu.clock.now();
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', desiredCount: 1 }));
    emu.clock.advance(15 * S);
    web = await describe1();
    expect(web).toMatchObject({ desiredCount: 1, runningCount: 1, deployments: [{ id: SAMPLE.deployments.web, desiredCount: 1, runningCount: 1 }] });
    expect(eventsSince(web, t1)).toEqual([
      expect.stringMatching(/^\(service web\) has stopped 2 running tasks: \(task \w+\) \(task \w+\)\.$/),
      expect.stringMatching(/^\(service web\) deregistered 2 targets in/),
      '(service web) has begun draining connections on 2 tasks.',
      '(service web) has reached a steady state.',
    ]);
    // The newest task goes first when scaling in.
    const stoppedNow = (await tasksOf('web', 'STOPPED')).filter((t) => t.stoppedAt?.getTime() === t1 + 15 * S);
    expect(stoppedNow.map((t) => t.stoppedReason)).toEqual(Array(2).fill(`Scaling activity initiated by (deployment ${SAMPLE.deployments.web})`));
  });

  it('forceNewDeployment replaces the tasks with the same task definition', async () => {
    const before = (await tasksOf('web')).map((t) => t.taskArn).sort();
    const { service } = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', forceNewDeployment: true }));
    const id = service!.deployments![0]!.id;
    expect(id).not.toBe(SAMPLE.deployments.web);
    expect(service!.deployments!.map((d) => [d.status, d.taskDefinition])).toEqual([
      ['PRIMARY', SAMPLE.taskDefinitions.web],
      ['ACTIVE', SAMPLE.taskDefinitions.web],
    ]);
    emu.clock.advance(60 * S);
    const web = await describe1();
    expect(web.deployments).toMatchObject([{ id, rolloutState: 'COMPLETED' }]);
    const after = await tasksOf('web');
    expect(after.map((t) => t.startedBy)).toEqual([id, id]);
    expect(after.map((t) => t.taskArn).sort()).not.toEqual(before);

    // The same task definition again is not a new deployment.
    const same = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:42' }));
    expect(same.service!.deployments).toMatchObject([{ id, rolloutState: 'COMPLETED' }]);
  });

  it('applies enableExecuteCommand to tasks started after the change', async () => {
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', enableExecuteCommand: false, forceNewDeployment: true }));
    emu.clock.advance(60 * S);
    const tasks = await tasksOf('web');
    expect(tasks.map((t) => t.enableExecuteCommand)).toEqual([false, false]);
    expect(tasks[0]!.containers![0]!.managedAgents).toEqual([]);
  });
});

describe('failing deployments', () => {
  it('counts crashing tasks, backs off, and the circuit breaker fails the deployment; old tasks keep serving', async () => {
    const def = await registerWeb(SAMPLE.images.webCrash);
    const t0 = emu.clock.now();
    const { service } = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: def.taskDefinitionArn }));
    const id = service!.deployments![0]!.id!;

    emu.clock.advance(35 * S); // RUNNING at 30 s, the essential container exits 5 s later
    let web = await describe1();
    expect(web.deployments![0]).toMatchObject({ id, failedTasks: 2, runningCount: 0, rolloutState: 'IN_PROGRESS' });
    const [crashed] = await tasksOf('web', 'STOPPED').then((tasks) => tasks.filter((t) => t.startedBy === id));
    expect(crashed).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      startedAt: new Date(t0 + 30 * S),
      stoppedAt: new Date(t0 + 35 * S),
    });
    expect(crashed!.containers!.map((c) => [c.name, c.exitCode])).toEqual([
      ['app', 1],
      ['log-router', 0],
    ]);

    // Two failures: the scheduler waits 30 s before trying again, then fails twice more.
    emu.clock.advance(29 * S);
    expect((await tasksOf('web')).filter((t) => t.startedBy === id)).toEqual([]);
    emu.clock.advance(36 * S); // relaunched at 65 s, crashing at 100 s: 4 failures ≥ threshold 3
    web = await describe1();
    const [failed, old] = web.deployments!;
    expect(failed).toMatchObject({
      id,
      status: 'PRIMARY',
      failedTasks: 4,
      rolloutState: 'FAILED',
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
      updatedAt: new Date(t0 + 100 * S),
    });
    expect(old).toMatchObject({ id: SAMPLE.deployments.web, status: 'ACTIVE', runningCount: 2 });
    expect(web.runningCount).toBe(2);
    expect(eventsSince(web, t0).filter((m) => !/targets in/.test(m))).toEqual([
      expect.stringMatching(/has started 2 tasks/),
      expect.stringMatching(/has started 2 tasks/),
      `(service web) (deployment ${id}) deployment failed: tasks failed to start.`,
    ]);

    // A failed deployment launches nothing more; the old revision keeps running.
    emu.clock.advance(3_600 * S);
    web = await describe1();
    expect(web.deployments!.map((d) => [d.status, d.rolloutState, d.runningCount])).toEqual([
      ['PRIMARY', 'FAILED', 0],
      ['ACTIVE', 'COMPLETED', 2],
    ]);
    expect((await tasksOf('web', 'STOPPED')).filter((t) => t.startedBy === id)).toHaveLength(4);
  });

  it('rolls back to the last completed deployment when the breaker has rollback on', async () => {
    const def = await registerWeb(`${SAMPLE.images.web.replace(/:[^:]+$/, '')}:does-not-exist`);
    const t0 = emu.clock.now();
    const { service } = await ecs.send(
      new UpdateServiceCommand({
        cluster: 'main',
        service: 'web',
        taskDefinition: def.taskDefinitionArn,
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      }),
    );
    expect(service!.deploymentConfiguration).toMatchObject({ maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { rollback: true } });
    const id = service!.deployments![0]!.id!;

    emu.clock.advance(30 * S); // the image pull fails after PENDING
    const [pull] = (await tasksOf('web', 'STOPPED')).filter((t) => t.startedBy === id);
    expect(pull).toMatchObject({ stopCode: 'TaskFailedToStart', lastStatus: 'STOPPED' });
    expect(pull!.startedAt).toBeUndefined();
    expect(pull!.stoppedReason).toMatch(/^CannotPullContainerError: .*web:does-not-exist: not found$/);
    expect(pull!.containers![0]!.reason).toBe(pull!.stoppedReason);
    expect((await describe1()).deployments![0]!.failedTasks).toBe(2);

    emu.clock.advance(60 * S); // relaunched at 60 s, failing at 90 s
    let web = await describe1();
    const [rollback, failed, original] = web.deployments!;
    expect(rollback).toMatchObject({
      status: 'PRIMARY',
      taskDefinition: SAMPLE.taskDefinitions.web,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${SAMPLE.deployments.web}.`,
      createdAt: new Date(t0 + 90 * S),
    });
    expect(failed).toMatchObject({ id, status: 'ACTIVE', rolloutState: 'FAILED', failedTasks: 4 });
    expect(original).toMatchObject({ id: SAMPLE.deployments.web, status: 'ACTIVE', runningCount: 2 });
    expect(web.taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    expect(web.events!.slice(0, 3).map((e) => e.message)).toEqual([
      expect.stringMatching(/^\(service web\) has started 2 tasks/),
      `(service web) rolling back to deployment ${SAMPLE.deployments.web}.`,
      `(service web) (deployment ${id}) deployment failed: tasks failed to start.`,
    ]);

    emu.clock.advance(60 * S);
    web = await describe1();
    expect(web.deployments).toEqual([
      expect.objectContaining({ id: rollback!.id, status: 'PRIMARY', rolloutState: 'COMPLETED', taskDefinition: SAMPLE.taskDefinitions.web }),
    ]);
    expect(web.events![0]!.message).toBe('(service web) has reached a steady state.');
    expect((await tasksOf('web')).map((t) => t.taskDefinitionArn)).toEqual([SAMPLE.taskDefinitions.web, SAMPLE.taskDefinitions.web]);
  });

  it('trips at half the desired count, at least 3 and at most 200 failures', async () => {
    expect([1, 2, 7, 10, 401, 5000].map(failureThreshold)).toEqual([3, 3, 4, 5, 200, 200]);
    const def = await registerWeb(SAMPLE.images.webOom);
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', desiredCount: 10, taskDefinition: def.taskDefinitionArn }));
    emu.clock.advance(35 * S); // all 10 start (maximumPercent 200 leaves room) and are killed together
    const web = await describe1();
    expect(web.deployments![0]).toMatchObject({ failedTasks: 10, rolloutState: 'FAILED' });
    const [oom] = (await tasksOf('web', 'STOPPED')).filter((t) => t.startedBy === web.deployments![0]!.id);
    expect(oom).toMatchObject({ stopCode: 'EssentialContainerExited', stoppedReason: 'OutOfMemoryError: Container killed due to memory usage' });
    expect(oom!.containers![0]!.exitCode).toBe(137);
  });

  it('keeps failing `broken` over time: no circuit breaker, growing back-off', async () => {
    const t0 = emu.clock.now();
    let broken = await describe1('broken');
    expect(broken.deployments![0]).toMatchObject({ failedTasks: 4, rolloutState: 'IN_PROGRESS' });
    emu.clock.advance(4 * 60 * S); // the seeded back-off ends
    broken = await describe1('broken');
    expect(broken.pendingCount).toBe(2);
    expect(eventsSince(broken, t0)).toEqual([expect.stringMatching(/^\(service broken\) has started 2 tasks: \(task \w+\) \(task \w+\)\.$/)]);
    emu.clock.advance(30 * S);
    broken = await describe1('broken');
    expect(broken.deployments![0]).toMatchObject({ failedTasks: 6, rolloutState: 'IN_PROGRESS', runningCount: 0 });
    emu.clock.advance(2 * 3_600 * S);
    broken = await describe1('broken');
    expect(broken.deployments![0]!.failedTasks).toBeGreaterThan(10);
    expect(broken.deployments![0]!.rolloutState).toBe('IN_PROGRESS');
    // broken:6's task is never retired: minimumHealthyPercent 100 needs a healthy broken:7 task first.
    expect(broken).toMatchObject({ desiredCount: 2, runningCount: 1 });
    expect(broken.deployments![1]).toMatchObject({ id: SAMPLE.deployments.brokenPrevious, status: 'ACTIVE', runningCount: 1 });
    expect((await tasksOf('broken')).filter((t) => t.lastStatus === 'RUNNING').map((t) => t.taskArn!.split('/').pop())).toEqual(SAMPLE.tasks.brokenRunning);
  });

  // The simulator decides a task's fate from its images alone (state.failingImages), not from broken's
  // network or secrets: this is about the scheduler retiring broken:6 once a deployment succeeds.
  it('a broken deployment whose tasks start completes and retires the exec-less broken:6 task', async () => {
    const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'broken' }))).taskDefinition!;
    const input = {
      ...current,
      containerDefinitions: current.containerDefinitions!.map((c) => ({ ...c, image: SAMPLE.images.web })),
    } as RegisterTaskDefinitionCommandInput;
    const fixed = (await ecs.send(new RegisterTaskDefinitionCommand(input))).taskDefinition!;
    expect(fixed.taskDefinitionArn).toBe('arn:aws:ecs:us-east-1:111111111111:task-definition/broken:8');
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'broken', taskDefinition: fixed.taskDefinitionArn }));
    emu.clock.advance(2 * 60 * S);
    const broken = await describe1('broken');
    expect(broken).toMatchObject({ runningCount: 2, deployments: [{ taskDefinition: fixed.taskDefinitionArn, rolloutState: 'COMPLETED', runningCount: 2 }] });
    const running = await tasksOf('broken');
    expect(running.map((t) => [t.taskDefinitionArn, t.enableExecuteCommand])).toEqual([
      [fixed.taskDefinitionArn, true],
      [fixed.taskDefinitionArn, true],
    ]);
    expect(running[0]!.containers![0]!.managedAgents).toMatchObject([{ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING' }]);
  });
});

describe('CreateService', () => {
  const NET = VERIFY_SEED.network;
  /** A second web-like service next to `web`, behind the same target group. */
  const canary = (input: Partial<CreateServiceCommandInput> = {}): CreateServiceCommandInput => ({
    cluster: 'main',
    serviceName: 'web-new',
    taskDefinition: 'web:42',
    desiredCount: 2,
    launchType: 'FARGATE',
    platformVersion: '1.4.0',
    networkConfiguration: { awsvpcConfiguration: { subnets: [...NET.privateSubnets], securityGroups: [NET.taskSecurityGroup], assignPublicIp: 'DISABLED' } },
    loadBalancers: [{ targetGroupArn: SAMPLE.targetGroupArn, containerName: 'app', containerPort: 8080 }],
    healthCheckGracePeriodSeconds: 30,
    enableExecuteCommand: true,
    propagateTags: 'SERVICE',
    tags: [{ key: 'team', value: 'platform' }],
    ...input,
  });

  it('creates a service whose first deployment the scheduler rolls out', async () => {
    const t0 = emu.clock.now();
    const { service } = await ecs.send(new CreateServiceCommand(canary()));
    expect(service).toMatchObject({
      serviceArn: 'arn:aws:ecs:us-east-1:111111111111:service/main/web-new',
      serviceName: 'web-new',
      clusterArn: SAMPLE.clusterArn,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 0,
      pendingCount: 2, // the scheduler launched both at once (maximumPercent 200)
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      taskDefinition: SAMPLE.taskDefinitions.web,
      schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'ECS' },
      deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: false, rollback: false } },
      roleArn: 'arn:aws:iam::111111111111:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS',
      enableExecuteCommand: true,
      healthCheckGracePeriodSeconds: 30,
      networkConfiguration: { awsvpcConfiguration: { subnets: [...NET.privateSubnets], assignPublicIp: 'DISABLED' } },
      tags: [{ key: 'team', value: 'platform' }],
      createdBy: 'arn:aws:iam::111111111111:role/ecs-chatops-lambda',
    });
    expect(service!.createdAt!.getTime()).toBe(t0);
    expect(service!.deployments).toEqual([
      expect.objectContaining({ status: 'PRIMARY', taskDefinition: SAMPLE.taskDefinitions.web, desiredCount: 2, pendingCount: 2, rolloutState: 'IN_PROGRESS' }),
    ]);
    expect(service!.events!.map((e) => e.message)).toEqual([expect.stringMatching(/^\(service web-new\) has started 2 tasks: \(task \w+\) \(task \w+\)\.$/)]);

    emu.clock.advance(60 * S);
    const created = await describe1('web-new');
    expect(created).toMatchObject({ runningCount: 2, pendingCount: 0, deployments: [{ rolloutState: 'COMPLETED', runningCount: 2 }] });
    expect(created.events![0]!.message).toBe('(service web-new) has reached a steady state.');
    expect(created.tags).toBeUndefined(); // DescribeServices shows tags only with include: ['TAGS']

    const tasks = await tasksOf('web-new');
    expect(tasks).toHaveLength(2);
    for (const task of tasks) {
      expect(task).toMatchObject({
        lastStatus: 'RUNNING',
        launchType: 'FARGATE',
        capacityProviderName: 'FARGATE',
        platformVersion: '1.4.0',
        enableExecuteCommand: true,
      });
      expect(task.containers!.map((c) => c.managedAgents![0]!.lastStatus)).toEqual(['RUNNING', 'RUNNING']);
      // The ENI is in one of the service's subnets, with an address and zone of that subnet.
      const details = Object.fromEntries(task.attachments![0]!.details!.map((d) => [d.name, d.value]));
      expect(NET.privateSubnets).toContain(details.subnetId);
      const [prefix, zone] = details.subnetId === NET.privateSubnets[0] ? ['10.0.1.', 'us-east-1a'] : ['10.0.2.', 'us-east-1b'];
      expect(details.privateIPv4Address!.startsWith(prefix)).toBe(true);
      expect(task.availabilityZone).toBe(zone);
    }
    expect(new Set(tasks.map((t) => t.availabilityZone)).size).toBe(2);
    // propagateTags SERVICE
    const tagged = await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: [tasks[0]!.taskArn!], include: ['TAGS'] }));
    expect(tagged.tasks![0]!.tags).toEqual([{ key: 'team', value: 'platform' }]);

    // ELB sees the new tasks next to web's in the shared target group.
    const elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
    const { TargetHealthDescriptions } = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: SAMPLE.targetGroupArn }));
    expect(TargetHealthDescriptions!.map((t) => t.TargetHealth!.State)).toEqual(['healthy', 'healthy', 'healthy', 'healthy']);
    elb.destroy();
    const { serviceArns } = await ecs.send(new ListServicesCommand({ cluster: 'main' }));
    expect(serviceArns).toContain(service!.serviceArn);
  });

  it('refuses what ECS refuses, and creates nothing then', async () => {
    const awsvpc = (subnets: string[], securityGroups: string[] = [NET.taskSecurityGroup]) => ({ awsvpcConfiguration: { subnets, securityGroups } });
    const cases: Array<[Partial<CreateServiceCommandInput>, string, string | RegExp]> = [
      [{ serviceName: 'web' }, 'InvalidParameterException', 'Creation of service was not idempotent.'],
      [{ serviceName: 'web canary' }, 'InvalidParameterException', /^Service name can have up to 255 letters/],
      [{ cluster: 'nope' }, 'ClusterNotFoundException', 'Cluster not found.'],
      [{ taskDefinition: 'web:99' }, 'ClientException', 'Unable to describe task definition.'],
      [{ desiredCount: -1 }, 'InvalidParameterException', 'Desired count must be an integer greater than or equal to 0.'],
      [{ networkConfiguration: undefined }, 'InvalidParameterException', "Network Configuration must be provided when networkMode 'awsvpc' is specified."],
      [{ networkConfiguration: awsvpc([]) }, 'InvalidParameterException', 'subnets can not be empty.'],
      [
        { networkConfiguration: awsvpc(['subnet-00000000000000000']) },
        'InvalidParameterException',
        /^Error retrieving subnet information for \[subnet-00000000000000000\]: The subnet ID 'subnet-00000000000000000' does not exist/,
      ],
      [
        { networkConfiguration: awsvpc([...NET.privateSubnets], ['sg-00000000000000000']) },
        'InvalidParameterException',
        /^Error retrieving security group information for \[sg-00000000000000000\]/,
      ],
      [
        { networkConfiguration: awsvpc([NET.privateSubnets[0], NET.isolated.subnet]) },
        'InvalidParameterException',
        'The subnets provided must all belong to the same VPC.',
      ],
      [
        { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] },
        'InvalidParameterException',
        'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
      ],
      [
        { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: 'my-asg', weight: 1 }] },
        'InvalidParameterException',
        /^The specified capacity provider strategy cannot contain a capacity provider that is not associated/,
      ],
      [
        { loadBalancers: [{ targetGroupArn: SAMPLE.targetGroupArn, containerName: 'app', containerPort: 9090 }] },
        'InvalidParameterException',
        'The container app did not have a container port 9090 defined.',
      ],
      [
        { loadBalancers: [{ targetGroupArn: SAMPLE.targetGroupArn, containerName: 'sidecar', containerPort: 8080 }] },
        'InvalidParameterException',
        'The container sidecar does not exist in the task definition.',
      ],
      [
        { loadBalancers: [{ targetGroupArn: VERIFY_SEED.targetGroups.missing, containerName: 'app', containerPort: 8080 }] },
        'InvalidParameterException',
        'Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.',
      ],
      [{ loadBalancers: [] }, 'InvalidParameterException', 'Health check grace period is only valid for services configured to use load balancers'],
      [{ role: 'ecsServiceRole' }, 'InvalidParameterException', 'You cannot specify an IAM role for services that require a service linked role.'],
      [{ deploymentConfiguration: { minimumHealthyPercent: 150 } }, 'InvalidParameterException', 'minimumHealthyPercent must be between 0 and 100.'],
    ];
    for (const [input, name, message] of cases) {
      await expect(ecs.send(new CreateServiceCommand(canary(input))), String(message)).rejects.toMatchObject({ name, message });
    }
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:41' }));
    await expect(ecs.send(new CreateServiceCommand(canary({ taskDefinition: 'web:41' })))).rejects.toMatchObject({
      name: 'ClientException',
      message: 'TaskDefinition is inactive',
    });
    const { serviceArns } = await ecs.send(new ListServicesCommand({ cluster: 'main' }));
    expect(serviceArns!.sort()).toEqual([
      SAMPLE.services.broken,
      SAMPLE.services.manager,
      SAMPLE.services.web,
      SAMPLE.services.webBg,
      SAMPLE.services.webCanary,
      SAMPLE.services.webLinear,
    ]);
    expect((await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web' }))).taskArns).toHaveLength(2);
  });

  it('is idempotent with the same clientToken, and places tasks by capacity provider strategy', async () => {
    const input = canary({
      launchType: undefined,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      clientToken: 'deploy-1',
      desiredCount: 1,
    });
    const first = (await ecs.send(new CreateServiceCommand(input))).service!;
    const again = (await ecs.send(new CreateServiceCommand(input))).service!;
    expect(again.deployments!.map((d) => d.id)).toEqual(first.deployments!.map((d) => d.id));
    expect(first).toMatchObject({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }], platformVersion: '1.4.0' });
    expect(first.launchType).toBeUndefined();
    await expect(ecs.send(new CreateServiceCommand({ ...input, clientToken: 'deploy-2' }))).rejects.toMatchObject({
      message: 'Creation of service was not idempotent.',
    });
    emu.clock.advance(60 * S);
    const [task] = await tasksOf('web-new');
    expect(task).toMatchObject({ lastStatus: 'RUNNING', launchType: 'FARGATE', capacityProviderName: 'FARGATE_SPOT' });
  });

  it('checks ecs:CreateService on the new service ARN, and fails a task whose image cannot be pulled like any rollout', async () => {
    emu.faults.deny('ecs:CreateService', { resource: 'arn:aws:ecs:us-east-1:111111111111:service/main/web-new' });
    await expect(ecs.send(new CreateServiceCommand(canary()))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    emu.faults.clear();
    await ecs.send(
      new CreateServiceCommand(canary({ serviceName: 'pull-fails', taskDefinition: 'broken:7', loadBalancers: [], healthCheckGracePeriodSeconds: undefined })),
    );
    emu.clock.advance(35 * S);
    const [stopped] = await tasksOf('pull-fails', 'STOPPED');
    expect(stopped).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: expect.stringMatching(/^CannotPullContainerError/) });
    expect((await describe1('pull-fails')).deployments![0]).toMatchObject({ rolloutState: 'IN_PROGRESS', failedTasks: 2 });
  });
});

describe('UpdateService errors', () => {
  it('answers like ECS for unknown services, task definitions and clusters', async () => {
    const cases: Array<[ConstructorParameters<typeof UpdateServiceCommand>[0], string, string]> = [
      [{ cluster: 'main', service: 'ghost', desiredCount: 1 }, 'ServiceNotFoundException', 'Service not found.'],
      [{ cluster: 'nope', service: 'web', desiredCount: 1 }, 'ClusterNotFoundException', 'Cluster not found.'],
      [{ cluster: 'main', service: 'web', taskDefinition: 'web:99' }, 'ClientException', 'Unable to describe task definition.'],
      [{ cluster: 'main', service: 'web', taskDefinition: 'nothing' }, 'ClientException', 'Unable to describe task definition.'],
      [{ cluster: 'main', service: 'web', desiredCount: -1 }, 'InvalidParameterException', 'Desired count must be an integer greater than or equal to 0.'],
      [
        { cluster: 'main', service: 'web', deploymentConfiguration: { minimumHealthyPercent: 150 } },
        'InvalidParameterException',
        'minimumHealthyPercent must be between 0 and 100.',
      ],
    ];
    for (const [input, name, message] of cases) {
      await expect(ecs.send(new UpdateServiceCommand(input)), message).rejects.toMatchObject({ name, message });
    }
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:41' }));
    await expect(ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:41' }))).rejects.toMatchObject({
      name: 'ClientException',
      message: 'TaskDefinition is inactive',
    });
    // Nothing changed.
    expect(await describe1()).toMatchObject({ desiredCount: 2, deployments: [{ id: SAMPLE.deployments.web }] });
  });

  it('refuses a service that is not ACTIVE', async () => {
    emu.state.region('111111111111', 'us-east-1').ecs.clusters.get('main')!.services.get('manager')!.status = 'DRAINING';
    await expect(ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'manager', desiredCount: 0 }))).rejects.toMatchObject({
      name: 'ServiceNotActiveException',
      message: 'Service was not ACTIVE.',
    });
  });

  it('checks ecs:UpdateService on the service ARN, and retries throttling', async () => {
    emu.faults.deny('ecs:UpdateService', { resource: SAMPLE.services.web });
    await expect(ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', desiredCount: 3 }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    emu.faults.clear();
    emu.faults.throttle('ecs:UpdateService', 1);
    const out = await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', forceNewDeployment: true }));
    expect(out.$metadata.attempts).toBe(2);
    expect(out.service!.deployments).toHaveLength(2); // one new deployment, not two
    expect(emu.calls.filter((c) => c.action === 'UpdateService').map((c) => c.error?.code ?? 'ok')).toEqual([
      'AccessDeniedException',
      'ThrottlingException',
      'ok',
    ]);
  });
});

describe('blue/green (CODE_DEPLOY) services', () => {
  it('shows the deployment controller and task set, and refuses rolling updates', async () => {
    const legacy = await describe1('legacy', SAMPLE.legacyCluster);
    expect(legacy).toMatchObject({
      serviceArn: SAMPLE.services.legacy,
      deploymentController: { type: 'CODE_DEPLOY' },
      deployments: [],
      taskSets: [{ id: SAMPLE.deployments.legacyTaskSet, status: 'PRIMARY', taskDefinition: SAMPLE.taskDefinitions.legacy, stabilityStatus: 'STEADY_STATE' }],
      runningCount: 2,
    });
    expect((await describe1()).deploymentController).toEqual({ type: 'ECS' });

    const update = (input: Partial<ConstructorParameters<typeof UpdateServiceCommand>[0]>) =>
      ecs.send(new UpdateServiceCommand({ cluster: SAMPLE.legacyCluster, service: 'legacy', ...input }));
    await expect(update({ taskDefinition: 'legacy:12' })).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.',
    });
    await expect(update({ forceNewDeployment: true })).rejects.toMatchObject({ name: 'InvalidParameterException', message: /^Cannot force a new deployment/ });
    const scaled = await update({ desiredCount: 3 });
    expect(scaled.service!.taskSets![0]!.computedDesiredCount).toBe(3);
  });
});

describe('ListServices', () => {
  it('lists active services, 10 per page by default', async () => {
    const all = await ecs.send(new ListServicesCommand({ cluster: 'main' }));
    expect(all.serviceArns!.sort()).toEqual([
      SAMPLE.services.broken,
      SAMPLE.services.manager,
      SAMPLE.services.web,
      SAMPLE.services.webBg,
      SAMPLE.services.webCanary,
      SAMPLE.services.webLinear,
    ]);
    const first = await ecs.send(new ListServicesCommand({ cluster: 'main', maxResults: 2 }));
    const second = await ecs.send(new ListServicesCommand({ cluster: 'main', maxResults: 2, nextToken: first.nextToken }));
    const third = await ecs.send(new ListServicesCommand({ cluster: 'main', maxResults: 2, nextToken: second.nextToken }));
    expect([...first.serviceArns!, ...second.serviceArns!, ...third.serviceArns!]).toHaveLength(6);
    expect(third.nextToken).toBeUndefined();
    expect((await ecs.send(new ListServicesCommand({ cluster: SAMPLE.legacyCluster }))).serviceArns).toEqual([SAMPLE.services.legacy]);
  });
});

describe('clock rate', () => {
  it('runs simulated time faster than real time, or not at all', async () => {
    const fast = new Clock({ rate: 1000 });
    const start = fast.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fast.now() - start).toBeGreaterThanOrEqual(15_000);
    fast.rate = 0;
    const frozen = fast.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(fast.now()).toBe(frozen);
    expect(new Clock(new Date('2030-01-01T00:00:00Z')).now()).toBeGreaterThanOrEqual(Date.parse('2030-01-01T00:00:00Z'));
  });

  it('lets a playground watch a rollout progress in real time', async () => {
    emu.clock.rate = 2000; // a 60 s rollout in ~30 ms
    await registerWeb(SAMPLE.images.webNext);
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:43' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await describe1()).deployments).toMatchObject([
      { taskDefinition: 'arn:aws:ecs:us-east-1:111111111111:task-definition/web:43', rolloutState: 'COMPLETED' },
    ]);
  });
});
