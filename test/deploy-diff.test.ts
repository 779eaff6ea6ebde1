import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { definitionDiff, unifiedDiff } from '../src/deploy/diff';
import { basisChanges, planBasis, planHash } from '../src/deploy/plan-hash';

const base: TaskDefinition = {
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:111111111111:task-definition/web:41',
  family: 'web',
  revision: 41,
  status: 'ACTIVE',
  registeredAt: new Date('2026-12-01T00:00:00Z'),
  taskRoleArn: 'arn:aws:iam::111111111111:role/web-task',
  executionRoleArn: 'arn:aws:iam::111111111111:role/web-exec',
  networkMode: 'awsvpc',
  cpu: '512',
  memory: '1024',
  containerDefinitions: [
    {
      name: 'app',
      image: 'repo/web:v1.4.0',
      command: ['bin/web'],
      portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
      environment: [
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'FEATURE_X', value: 'off' },
      ],
      secrets: [{ name: 'DB_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:111111111111:parameter/db/password' }],
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web', 'awslogs-stream-prefix': 'web' } },
    },
  ],
};

const changed = (edit: (td: TaskDefinition) => void): TaskDefinition => {
  const td = structuredClone(base);
  Object.assign(td, { taskDefinitionArn: td.taskDefinitionArn!.replace(':41', ':42'), revision: 42, registeredAt: new Date() });
  edit(td);
  return td;
};

describe('the whole change a deploy makes', () => {
  it('says per container what changed: image, command, cpu/memory, ports, environment NAMES, secrets, logs; and the task’s roles and size', () => {
    const to = changed((td) => {
      const app = td.containerDefinitions![0]!;
      Object.assign(app, {
        image: 'repo/web:v1.5.0',
        command: ['bin/web', '--workers', '4'],
        memory: 900,
        portMappings: [{ containerPort: 9090, protocol: 'tcp' }],
        environment: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'NEW_FLAG', value: 'secret-ish' },
        ],
        secrets: [
          { name: 'DB_PASSWORD', valueFrom: 'arn:aws:ssm:us-east-1:111111111111:parameter/db/password-v2' },
          { name: 'API_KEY', valueFrom: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:api' },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web-v2', 'awslogs-stream-prefix': 'web' } },
      });
      td.taskRoleArn = 'arn:aws:iam::111111111111:role/web-task-v2';
      td.memory = '2048';
    });
    const { lines, unified } = definitionDiff(base, to, { showEnvironmentValues: false });
    expect(lines).toEqual([
      'app: image repo/web:v1.4.0 → repo/web:v1.5.0',
      'app: command ["bin/web"] → ["bin/web","--workers","4"]',
      'app: memory none → 900',
      'app: ports 8080/tcp → 9090/tcp',
      'app: environment added: NEW_FLAG',
      'app: environment removed: FEATURE_X',
      'app: environment changed: LOG_LEVEL',
      'app: secrets added: API_KEY',
      'app: secrets changed: DB_PASSWORD',
      'app: log configuration awslogs /ecs/web → awslogs /ecs/web-v2',
      'task taskRoleArn: arn:aws:iam::111111111111:role/web-task → arn:aws:iam::111111111111:role/web-task-v2',
      'task memory: 1024 → 2048',
    ]);
    // Values of plain variables stay out by default; secrets' sources and values always do.
    expect(lines.join('\n')).not.toMatch(/debug|secret-ish|password-v2/);
    expect(unified).toMatch(/^--- web:41\n\+\+\+ web:42\n@@ /);
    expect(unified).toContain('-          "value": "info"');
    expect(unified).toContain('+          "value": "debug"');
    // Server-set fields are no change.
    expect(unified).not.toMatch(/revision|registeredAt/);
  });

  it('shows plain values only when the target allows it, never a secret’s', () => {
    const to = changed((td) => {
      td.containerDefinitions![0]!.environment![0]!.value = 'debug';
      td.containerDefinitions![0]!.secrets![0]!.valueFrom = 'arn:aws:ssm:us-east-1:111111111111:parameter/other';
    });
    const { lines } = definitionDiff(base, to, { showEnvironmentValues: true });
    expect(lines).toEqual(['app: environment changed: LOG_LEVEL: info → debug', 'app: secrets changed: DB_PASSWORD']);
  });

  it('nothing different is no line and no diff; a difference outside the summary is said and in the file', () => {
    expect(
      definitionDiff(
        base,
        changed(() => {}),
        { showEnvironmentValues: false },
      ),
    ).toEqual({ lines: [], unified: '' });
    const other = definitionDiff(
      base,
      changed((td) => {
        td.containerDefinitions![0]!.ulimits = [{ name: 'nofile', softLimit: 65536, hardLimit: 65536 }];
      }),
      { showEnvironmentValues: false },
    );
    expect(other.lines).toEqual(['other settings differ (see the attached diff)']);
    expect(other.unified).toContain('+      "ulimits": [');
  });

  it('writes hunks with their line ranges, apart when far apart', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const b = [...a];
    b[1] = 'line 2 changed';
    b[17] = 'line 18 changed';
    const diff = unifiedDiff(a, b, 'a', 'b');
    expect(diff.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,5 +1,5 @@', '@@ -15,6 +15,6 @@']);
  });
});

describe('approvals bound to the plan', () => {
  const service = { taskDefinition: base.taskDefinitionArn!, deploymentController: { type: 'ECS' as const } };
  const basis = planBasis(service, { registeredFrom: base.taskDefinitionArn! }, base);

  it('the same facts give the same hash; each moved fact is named', () => {
    expect(planHash(planBasis(service, { registeredFrom: base.taskDefinitionArn! }, structuredClone(base)))).toBe(planHash(basis));
    expect(planHash(basis)).toMatch(/^[0-9a-f]{12}$/);
    const moved = planBasis(
      {
        taskDefinition: base.taskDefinitionArn!.replace(':41', ':43'),
        deploymentController: { type: 'ECS' },
        deploymentConfiguration: { strategy: 'BLUE_GREEN' },
      },
      { registeredFrom: base.taskDefinitionArn! },
      changed((td) => {
        td.containerDefinitions![0]!.image = 'repo/web:other';
      }),
    );
    expect(planHash(moved)).not.toBe(planHash(basis));
    expect(basisChanges(basis, moved)).toEqual([
      'the service now runs web:43, not web:41',
      'its deployment strategy is now BLUE_GREEN, not ROLLING',
      'the task definition it would run is not the one shown',
    ]);
    expect(basisChanges(basis, { ...basis, controller: 'CODE_DEPLOY' })).toEqual(['its deployment controller is now CODE_DEPLOY, not ECS']);
    expect(basisChanges(basis, basis)).toEqual([]);
  });
});

describe('the strategy in the plan', () => {
  it('names each strategy and its steps, with ECS’s defaults, and where it pauses for a decision', async () => {
    const { describeStrategy } = await import('../src/deploy/strategy');
    expect(describeStrategy(undefined)).toBe('rolling update (at least 100% healthy, at most 200%)');
    expect(describeStrategy({ minimumHealthyPercent: 50, maximumPercent: 150, deploymentCircuitBreaker: { enable: true, rollback: true } })).toBe(
      'rolling update (at least 50% healthy, at most 150%, circuit breaker with rollback)',
    );
    expect(describeStrategy({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 }, bakeTimeInMinutes: 15 })).toBe(
      'canary 10% for 5 min, then 100%; bake 15 min',
    );
    expect(describeStrategy({ strategy: 'CANARY' })).toBe('canary 5% for 10 min, then 100%');
    expect(describeStrategy({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 25 }, bakeTimeInMinutes: 0 })).toBe(
      'linear 25% every 6 min (4 steps); bake 0 min',
    );
    expect(
      describeStrategy({
        strategy: 'BLUE_GREEN',
        bakeTimeInMinutes: 15,
        lifecycleHooks: [
          { targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] },
          { targetType: 'AWS_LAMBDA', hookTargetArn: 'arn:aws:lambda:us-east-1:111111111111:function:smoke', lifecycleStages: ['POST_SCALE_UP'] },
        ],
      }),
    ).toBe('blue/green: the new revision beside the old, then all production traffic at once; bake 15 min; pauses for a decision at POST_TEST_TRAFFIC_SHIFT');
  });
});
