import {
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { useEmulatorEcs } from './support/emulator';
import { describe, expect, it } from 'vitest';
import { registerInput, withImage } from '../src/ecs/taskdef';
import { UsageError } from '../src/platform/errors';

const ECR = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const td: TaskDefinition = {
  family: 'web',
  containerDefinitions: [
    { name: 'app', image: `${ECR}/web:v1.4.2`, essential: true },
    { name: 'worker', image: `${ECR}/web:v1.4.2@sha256:${'a'.repeat(64)}`, essential: true },
    { name: 'proxy', image: 'nginx:1.27', essential: false },
  ],
};

describe('withImage: the task definition a deploy would register', () => {
  it('a bare tag re-tags the containers of the first essential container’s repository, dropping a pinned digest', () => {
    const { taskDefinition, changes } = withImage(td, 'v1.5.0');
    expect(changes.map((c) => [c.container, c.to])).toEqual([
      ['app', `${ECR}/web:v1.5.0`],
      ['worker', `${ECR}/web:v1.5.0`],
    ]);
    expect(taskDefinition.containerDefinitions![2]!.image).toBe('nginx:1.27');
    expect(td.containerDefinitions![0]!.image).toBe(`${ECR}/web:v1.4.2`); // the input is not changed
  });
  it('a full image replaces the containers of the same repository, Docker Hub names normalised', () => {
    expect(withImage(td, 'docker.io/library/nginx:1.28').changes).toEqual([{ container: 'proxy', from: 'nginx:1.27', to: 'docker.io/library/nginx:1.28' }]);
  });
  it('honours appContainers and refuses what matches nothing', () => {
    expect(withImage(td, 'v2', ['worker']).changes.map((c) => c.container)).toEqual(['worker']);
    expect(() => withImage(td, `${ECR}/api:v1`)).toThrow(UsageError);
    expect(() => withImage(td, 'v2', ['nope'])).toThrow(/names app container\(s\) `nope`/);
  });
});

describe('registerInput: the RegisterTaskDefinition input of a deploy', () => {
  /** What DescribeTaskDefinition returns, with every read-only member and the unusual input ones. */
  const described = {
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:111111111111:task-definition/web:42',
    revision: 42,
    status: 'ACTIVE',
    requiresAttributes: [{ name: 'ecs.capability.task-eni' }],
    compatibilities: ['EC2', 'FARGATE'],
    registeredAt: new Date('2026-11-24T11:00:00Z'),
    registeredBy: 'arn:aws:sts::111111111111:assumed-role/deploy/ci',
    deregisteredAt: new Date('2026-11-24T11:30:00Z'),
    deleteRequestedAt: new Date('2026-11-24T11:40:00Z'),
    family: 'web',
    taskRoleArn: 'arn:aws:iam::111111111111:role/web-task-role',
    executionRoleArn: 'arn:aws:iam::111111111111:role/web-execution-role',
    networkMode: 'awsvpc',
    containerDefinitions: [
      { name: 'app', image: `${ECR}/web:v1.4.2`, essential: true, environment: [{ name: 'A', value: '1' }], portMappings: [{ containerPort: 8080 }] },
      { name: 'worker', image: `${ECR}/web:v1.4.2`, essential: true, command: ['work'] },
      { name: 'proxy', image: 'nginx:1.27', essential: false, memoryReservation: 64 },
    ],
    volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1234', rootDirectory: '/', transitEncryption: 'ENABLED' } }],
    placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone in [us-east-1a]' }],
    requiresCompatibilities: ['FARGATE'],
    cpu: '512',
    memory: '1024',
    runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    ephemeralStorage: { sizeInGiB: 40 },
    proxyConfiguration: { type: 'APPMESH', containerName: 'proxy', properties: [{ name: 'ProxyIngressPort', value: '15000' }] },
    pidMode: 'task',
    ipcMode: 'none',
    enableFaultInjection: true,
    inferenceAccelerators: [{ deviceName: 'd1', deviceType: 'eia2.medium' }],
    // A member ECS adds after this code was written: carried along, not dropped.
    someFutureField: { enabled: true },
  } as unknown as TaskDefinition;
  const READ_ONLY = [
    'taskDefinitionArn',
    'revision',
    'status',
    'requiresAttributes',
    'compatibilities',
    'registeredAt',
    'registeredBy',
    'deregisteredAt',
    'deleteRequestedAt',
  ];
  const change = { container: 'app', from: `${ECR}/web:v1.4.2`, to: `${ECR}/web:v1.5.0` };

  it('drops exactly ECS’s read-only members and carries every other member unchanged', () => {
    const input = registerInput(described, [change]) as unknown as Record<string, unknown>;
    for (const field of READ_ONLY) expect(input, field).not.toHaveProperty(field);
    const kept = Object.keys(described).filter((k) => !READ_ONLY.includes(k) && k !== 'containerDefinitions');
    expect(kept).toEqual(
      expect.arrayContaining([
        'volumes',
        'placementConstraints',
        'runtimePlatform',
        'ephemeralStorage',
        'proxyConfiguration',
        'pidMode',
        'ipcMode',
        'enableFaultInjection',
        'cpu',
        'memory',
        'someFutureField',
      ]),
    );
    for (const k of kept) expect(input[k], k).toEqual((described as Record<string, unknown>)[k]);
    // Nothing else appears: the input is exactly the kept members, the containers and nothing more (no tags given).
    expect(Object.keys(input).sort()).toEqual([...kept, 'containerDefinitions'].sort());
  });

  it('replaces only the images of the changed containers, by name, leaving the rest of each container as it was', () => {
    const input = registerInput(described, [change]);
    const [app, worker, proxy] = input.containerDefinitions!;
    expect(app).toEqual({ ...described.containerDefinitions![0], image: `${ECR}/web:v1.5.0` });
    // `worker` uses the same image but is not named in the changes: it keeps it.
    expect(worker).toEqual(described.containerDefinitions![1]);
    expect(proxy).toEqual(described.containerDefinitions![2]);
    // Matched by container name, not by position or by the old image.
    const byName = registerInput(described, [{ container: 'proxy', from: 'something else', to: 'nginx:1.28' }]);
    expect(byName.containerDefinitions!.map((c) => c.image)).toEqual([`${ECR}/web:v1.4.2`, `${ECR}/web:v1.4.2`, 'nginx:1.28']);
    // A change naming no container changes nothing; the input task definition is not modified.
    expect(registerInput(described, [{ container: 'nope', from: 'x', to: 'y' }]).containerDefinitions).toEqual(described.containerDefinitions);
    expect(described.containerDefinitions![0]!.image).toBe(`${ECR}/web:v1.4.2`);
    expect(described).toHaveProperty('taskDefinitionArn');
  });

  it('passes the task definition’s tags along, and omits `tags` when there are none', () => {
    const tags = [
      { key: 'service', value: 'web' },
      { key: 'team', value: 'payments' },
    ];
    expect(registerInput(described, [change], tags).tags).toEqual(tags);
    expect(registerInput(described, [change], [])).not.toHaveProperty('tags');
    expect(registerInput(described, [change])).not.toHaveProperty('tags');
  });
});

describe('registerInput against the local emulator’s RegisterTaskDefinition', () => {
  const env = useEmulatorEcs('file');

  const describeTd = async (taskDefinition: string) => env.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }));
  /** Everything but what ECS sets itself and the images. */
  const settings = (td: TaskDefinition) => {
    const copy: Record<string, unknown> = { ...td };
    for (const f of [
      'taskDefinitionArn',
      'revision',
      'status',
      'requiresAttributes',
      'compatibilities',
      'registeredAt',
      'registeredBy',
      'deregisteredAt',
      'deleteRequestedAt',
    ])
      delete copy[f];
    return copy;
  };

  it('registers the seeded web:42 with a new app image; DescribeTaskDefinition shows the same definition, roles and tags', async () => {
    const current = await describeTd('web:42');
    const { changes } = withImage(current.taskDefinition!, 'v1.5.0');
    const registered = await env.ecs.send(new RegisterTaskDefinitionCommand(registerInput(current.taskDefinition!, changes, current.tags)));
    expect(registered.taskDefinition).toMatchObject({ family: 'web', revision: 43, status: 'ACTIVE' });

    const after = await describeTd(registered.taskDefinition!.taskDefinitionArn!);
    const before = current.taskDefinition!;
    const now = after.taskDefinition!;
    expect(now.containerDefinitions).toEqual(before.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image: `${ECR}/web:v1.5.0` } : c)));
    expect(settings(now)).toEqual({ ...settings(before), containerDefinitions: now.containerDefinitions });
    expect([now.family, now.taskRoleArn, now.executionRoleArn]).toEqual([before.family, before.taskRoleArn, before.executionRoleArn]);
    expect(after.tags).toEqual(current.tags);
    expect(after.tags).toEqual([{ key: 'service', value: 'web' }]);
  });

  it('round-trips a definition with volumes, placement constraints, runtime platform, ephemeral storage, proxy, pid/ipc mode and fault injection', async () => {
    const odd = {
      family: 'odd',
      taskRoleArn: 'arn:aws:iam::111111111111:role/web-task-role',
      executionRoleArn: 'arn:aws:iam::111111111111:role/web-execution-role',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [
        { name: 'app', image: `${ECR}/web:v1.4.2`, essential: true, mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] },
        { name: 'envoy', image: 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29', essential: true, user: '1337' },
      ],
      volumes: [{ name: 'data', efsVolumeConfiguration: { fileSystemId: 'fs-1234', rootDirectory: '/', transitEncryption: 'ENABLED' } }],
      placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone in [us-east-1a]' }],
      runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
      ephemeralStorage: { sizeInGiB: 40 },
      proxyConfiguration: {
        type: 'APPMESH',
        containerName: 'envoy',
        properties: [
          { name: 'ProxyIngressPort', value: '15000' },
          { name: 'IgnoredUID', value: '1337' },
        ],
      },
      pidMode: 'task',
      ipcMode: 'none',
      enableFaultInjection: true,
    } as const;
    await env.ecs.send(new RegisterTaskDefinitionCommand(odd as unknown as RegisterTaskDefinitionCommandInput));
    const first = await describeTd('odd');
    const change = { container: 'app', from: `${ECR}/web:v1.4.2`, to: `${ECR}/web:v1.5.0` };
    await env.ecs.send(new RegisterTaskDefinitionCommand(registerInput(first.taskDefinition!, [change], first.tags)));
    const second = await describeTd('odd');
    expect(second.taskDefinition!.revision).toBe(first.taskDefinition!.revision! + 1);
    expect(second.taskDefinition!.containerDefinitions!.map((c) => c.image)).toEqual([`${ECR}/web:v1.5.0`, 'public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29']);
    const expected = settings(first.taskDefinition!);
    expected.containerDefinitions = first.taskDefinition!.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image: change.to } : c));
    expect(settings(second.taskDefinition!)).toEqual(expected);
    for (const k of [
      'volumes',
      'placementConstraints',
      'runtimePlatform',
      'ephemeralStorage',
      'proxyConfiguration',
      'pidMode',
      'ipcMode',
      'enableFaultInjection',
      'cpu',
      'memory',
    ] as const) {
      expect(second.taskDefinition![k], k).toEqual(odd[k]);
    }
    // No tags on the first revision: none asked for, none on the second.
    expect(first.tags ?? []).toEqual([]);
    expect(second.tags ?? []).toEqual([]);
  });
});
