/**
 * ECS Exec readiness: what `/ecs run` (and `aws ecs execute-command`) needs before a session can
 * open. The classic pitfalls: exec was turned on after the tasks started (ECS only applies it to
 * tasks it starts afterwards), the SSM agent in the container is not running, the task role may
 * not open ssmmessages channels, an old Fargate platform, and the cluster's KMS key or session log
 * destination being unusable by the task role.
 */
import type { Cluster, ContainerDefinition, ExecuteCommandConfiguration, Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import type { KeyMetadata } from '@aws-sdk/client-kms';
import { roleName } from '../../aws/arn';
import type { VerifyContext } from '../context';
import { describeCheckError } from '../errors';
import { checkPermission } from '../permissions';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, unverified, warn } from '../types';
import { marks, quantity } from '../text';
import { describeKey, execConfiguration, keyPolicy, logGroupLookup } from './lookups';

/** The four calls the SSM agent in the container makes to open a session (on resource `*`). */
const EXEC_ACTIONS = ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'];

const GROUP = ['ECS Exec'];

const taskId = (task: Task) => task.taskArn?.split('/').pop() ?? '?';

/** `3 h ago`, `2 days ago`: enough to tell an old task from a new one. */
export function age(date: Date | undefined, now = Date.now()): string {
  if (!date) return 'at an unknown time';
  const minutes = Math.max(0, Math.round((now - date.getTime()) / 60_000));
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** `1.4.0` ≥ `1.4.0`; non-numeric versions (`LATEST`) compare as unknown. */
export function versionAtLeast(version: string | undefined, minimum: string): boolean | undefined {
  if (!version || !/^\d+(\.\d+)*$/.test(version)) return undefined;
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** `/ecs run` opens its sessions in this target's service (not in another `manager.service`). */
function managerContainer(ctx: VerifyContext): string | undefined {
  const manager = ctx.target.manager;
  if (!manager) return undefined;
  return (manager.service ?? ctx.target.service) === ctx.target.service ? manager.container : undefined;
}

function cli(ctx: VerifyContext, rest: string): string {
  return `aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} ${rest}`;
}

const redeployFix = (ctx: VerifyContext) => `Start new tasks: \`/ecs deploy ${ctx.alias} --redeploy\` (or \`${cli(ctx, '--force-new-deployment')}\`).`;

export const execChecks: Planner = ({ ctx, taskDefinition, service }) => {
  const root = execEnabledCheck(taskDefinition, service);
  if (!service.enableExecuteCommand) return [root];
  return [
    root,
    tasksCheck(ctx),
    agentCheck(ctx, taskDefinition),
    taskRoleCheck(taskDefinition),
    platformCheck(taskDefinition, service),
    kmsCheck(taskDefinition),
    loggingCheck(taskDefinition),
  ];
};

function execEnabledCheck(taskDefinition: TaskDefinition, service: Service): CheckSpec {
  return {
    id: 'exec',
    family: 'exec',
    title: 'ECS Exec',
    group: GROUP,
    async run(ctx) {
      const container = managerContainer(ctx);
      if (!service.enableExecuteCommand) {
        if (!container) return skip('off for this service; only `/ecs run` needs it, and this target runs no `manager` container here');
        return fail(
          `off for this service, but \`/ecs run\` opens its sessions in its container \`${container}\``,
          `Turn it on and start new tasks (ECS only enables it for tasks started afterwards): \`${cli(ctx, '--enable-execute-command --force-new-deployment')}\``,
        );
      }
      if (container) {
        const names = (taskDefinition.containerDefinitions ?? []).map((c) => c.name!);
        if (!names.includes(container)) {
          return fail(
            `enabled, but \`/ecs run\` is configured to use container \`${container}\`, which task definition \`${taskDefinition.family}:${taskDefinition.revision}\` does not have (it has ${marks(names)})`,
            `Set \`targets.${ctx.alias}.manager.container\` to one of ${marks(names)} in the configuration.`,
          );
        }
        return ok(`enabled on the service; \`/ecs run\` uses container \`${container}\``);
      }
      return ok('enabled on the service');
    },
  };
}

/** Every RUNNING task must have been started with exec on: turning it on later does not reach them. */
function tasksCheck(ctx: VerifyContext): CheckSpec {
  return {
    id: 'exec:tasks',
    family: 'exec',
    title: 'Running tasks',
    group: GROUP,
    async run() {
      const tasks = await ctx.runningTasks();
      if (tasks.length === 0) return skip('no task is running, so none can be checked (a session needs a running task)');
      const without = tasks.filter((t) => !t.enableExecuteCommand);
      if (without.length === 0) return ok(tasks.length === 1 ? 'the running task has ECS Exec on' : `all ${tasks.length} running tasks have ECS Exec on`);
      const list = without
        .map((t) => `\`${taskId(t)}\` (${t.taskDefinitionArn?.split('/').pop() ?? '?'}, started ${age(t.startedAt ?? t.createdAt)})`)
        .join(', ');
      return fail(
        `${without.length} of ${quantity(tasks.length, 'running task')} ${without.length === 1 ? 'was' : 'were'} started without ECS Exec: ${list}. ECS turns exec on only for tasks it starts after it was enabled, so sessions into ${without.length === 1 ? 'it' : 'them'} fail with “execute command was not enabled when the task was run”`,
        redeployFix(ctx),
      );
    },
  };
}

/** The ExecuteCommandAgent (the SSM agent ECS starts in each container) must be RUNNING. */
function agentCheck(ctx: VerifyContext, taskDefinition: TaskDefinition): CheckSpec {
  return {
    id: 'exec:agent',
    family: 'exec',
    title: 'Exec agent',
    group: GROUP,
    async run() {
      const tasks = (await ctx.runningTasks()).filter((t) => t.enableExecuteCommand);
      if (tasks.length === 0) return skip('no running task has ECS Exec on (see “Running tasks”)');
      const stopped: string[] = [];
      const pending: string[] = [];
      let running = 0;
      for (const task of tasks) {
        // Containers that already exited (init containers, non-essential ones) have no agent to talk to.
        for (const container of (task.containers ?? []).filter((c) => c.lastStatus === 'RUNNING')) {
          const agent = container.managedAgents?.find((a) => a.name === 'ExecuteCommandAgent');
          const where = `\`${container.name}\` in task \`${taskId(task)}\``;
          if (agent?.lastStatus === 'RUNNING') running++;
          else if (agent?.lastStatus === 'PENDING') pending.push(where);
          else
            stopped.push(`${where}: ${agent ? `agent ${agent.lastStatus ?? 'in an unknown state'}${agent.reason ? ` (${agent.reason})` : ''}` : 'no agent'}`);
        }
      }
      if (stopped.length) {
        const readOnly = (taskDefinition.containerDefinitions ?? []).filter((c: ContainerDefinition) => c.readonlyRootFilesystem).map((c) => c.name!);
        const causes = [
          ...(readOnly.length
            ? [
                `${marks(readOnly)} ${readOnly.length === 1 ? 'has' : 'have'} \`readonlyRootFilesystem\` on, and the agent cannot set itself up in a read-only container`,
              ]
            : []),
          `the agent could not reach \`ssmmessages.${ctx.region}.amazonaws.com\` (no NAT route and no \`ssmmessages\` VPC endpoint: see the Network checks)`,
          'the task role may not open the ssmmessages channels (see “Task role”)',
          'the container has no shell or ran out of memory or disk',
        ];
        return fail(
          `the ECS Exec agent is not running in ${stopped.join('; ')}. Usual causes: ${causes.join('; ')}`,
          `Fix the cause, then ${redeployFix(ctx).replace(/^Start/, 'start')}`,
        );
      }
      if (pending.length)
        return warn(
          `the ECS Exec agent is still starting in ${pending.join(', ')}`,
          'Check again in a minute; if it stays PENDING, the agent cannot reach ssmmessages (see the Network checks).',
        );
      return ok(`the agent runs in ${running === 1 ? 'the one container' : `all ${running} containers`} of ${quantity(tasks.length, 'task')}`);
    },
  };
}

const NO_TASK_ROLE_FIX = (ctx: VerifyContext) =>
  `Give the task definition a task role (\`"taskRoleArn"\`) that allows ${marks(EXEC_ACTIONS)} on \`*\`, then \`/ecs deploy ${ctx.alias} --redeploy\`.`;

function taskRoleCheck(taskDefinition: TaskDefinition): CheckSpec {
  return {
    id: 'exec:task-role',
    family: 'exec',
    title: 'Task role',
    group: GROUP,
    async run(ctx) {
      const roleArn = taskDefinition.taskRoleArn;
      if (!roleArn)
        return fail('the task definition has no task role: the agent opens ECS Exec sessions with the task role’s credentials', NO_TASK_ROLE_FIX(ctx));
      const problem = await checkPermission(ctx, { label: 'task role', roleArn, actions: EXEC_ACTIONS, resources: ['*'] });
      if (problem?.status === 'FAIL') {
        // Same (memoized) simulation: name the denied calls once, not four times over.
        const { denials } = await ctx.simulate(roleArn, EXEC_ACTIONS, ['*']);
        const actions = denials.map((d) => d.action.split(':')[1]).join(', ');
        const how = denials.every((d) => d.decision === 'explicitDeny')
          ? 'a Deny statement blocks'
          : denials.some((d) => d.decision === 'explicitDeny')
            ? 'it is denied or not allowed'
            : 'its policies do not allow';
        return { ...problem, message: `\`${roleName(roleArn)}\` cannot open ECS Exec sessions: ${how} ssmmessages ${actions} (on \`*\`)` };
      }
      if (problem) return problem;
      return ok(`\`${roleName(roleArn)}\` may open ECS Exec sessions (${EXEC_ACTIONS.map((a) => a.split(':')[1]).join(', ')})`);
    },
  };
}

/** Fargate needs platform 1.4.0+ (Linux); on EC2 the ECS agent version matters, which we cannot see here; a service on both gets both. */
function platformCheck(taskDefinition: TaskDefinition, service: Service): CheckSpec {
  return {
    id: 'exec:platform',
    family: 'exec',
    title: 'Platform',
    group: GROUP,
    async run(ctx) {
      const kinds = await ctx.launchKinds();
      const instances = [...kinds].filter((kind) => kind !== 'FARGATE');
      const agent = `ECS Exec needs ECS container agent 1.50.2 or later on the instances, which cannot be read from the service (it is the container instances' \`versionInfo.agentVersion\`)`;
      if (!kinds.has('FARGATE')) {
        return skip(`${instances.includes('EXTERNAL') ? 'external instances (ECS Anywhere)' : 'EC2 launch type'}: ${agent}: not checked`);
      }
      // Tasks on both: the Fargate ones are judged here, and the instances' agent is named as unchecked.
      const alsoInstances = instances.length ? `; tasks on EC2 also run here, and there ${agent}: not checked` : '';
      const windows = /^WINDOWS/i.test(service.platformFamily ?? taskDefinition.runtimePlatform?.operatingSystemFamily ?? '');
      // Windows on Fargate has supported exec since its first platform version (1.0.0).
      const minimum = windows ? '1.0.0' : '1.4.0';
      const configured = service.platformVersion ?? 'LATEST';
      const tasks = await ctx.runningTasks();
      const old = tasks.filter((t) => versionAtLeast(t.platformVersion, minimum) === false);
      if (versionAtLeast(configured, minimum) === false) {
        return fail(
          `the service runs on Fargate platform version ${configured}; ECS Exec needs ${minimum} or later${alsoInstances}`,
          `\`${cli(ctx, '--platform-version LATEST --force-new-deployment')}\``,
        );
      }
      if (old.length) {
        return fail(
          `the service asks for platform ${configured}, but ${old.map((t) => `\`${taskId(t)}\` runs on ${t.platformVersion}`).join(', ')}; ECS Exec needs ${minimum} or later${alsoInstances}`,
          redeployFix(ctx),
        );
      }
      const actual = [...new Set(tasks.map((t) => t.platformVersion).filter((v): v is string => !!v))];
      if (configured === 'LATEST') {
        return ok(
          `Fargate platform LATEST${actual.length ? ` (${actual.join(', ')} on the running tasks)` : `, which is ${minimum} or later for new tasks`}${alsoInstances}`,
        );
      }
      return ok(`Fargate platform ${configured} (ECS Exec needs ${minimum} or later)${alsoInstances}`);
    },
  };
}

/** The key, or undefined if it does not exist (shares the Secrets checks' memoized lookups). */
async function findKey(ctx: VerifyContext, keyRef: string): Promise<KeyMetadata | undefined> {
  try {
    return await describeKey(ctx, regionOfArn(keyRef) ?? ctx.region, keyRef);
  } catch (error) {
    if ((error as Error).name === 'NotFoundException') return undefined;
    throw error;
  }
}

/** The key policy, or the error that kept the bot from reading it. */
async function readKeyPolicy(ctx: VerifyContext, keyArn: string): Promise<{ policy?: string; error?: unknown }> {
  try {
    return { policy: await keyPolicy(ctx, regionOfArn(keyArn) ?? ctx.region, keyArn) };
  } catch (error) {
    return { error };
  }
}

const regionOfArn = (arn: string) => (arn.startsWith('arn:') ? arn.split(':')[3] || undefined : undefined);

function clusterConfigFix(ctx: VerifyContext, what: string): string {
  return `\`aws ecs update-cluster --region ${ctx.region} --cluster ${ctx.target.cluster} --configuration '{"executeCommandConfiguration":{${what}}}'\``;
}

/** With a customer key on the cluster, the agent in the container decrypts the session with the task role. */
function kmsCheck(taskDefinition: TaskDefinition): CheckSpec {
  return {
    id: 'exec:kms',
    family: 'exec',
    title: 'Session encryption key',
    group: GROUP,
    async run(ctx) {
      const keyRef = (await execConfiguration(ctx)).kmsKeyId;
      if (!keyRef) return skip('sessions are not encrypted with a customer key (the cluster sets no `kmsKeyId`)');
      const key = await findKey(ctx, keyRef);
      if (!key) {
        return fail(
          `the cluster encrypts ECS Exec sessions with KMS key \`${keyRef}\`, which does not exist: every session fails to start`,
          `Point the cluster at an existing key, or remove it: ${clusterConfigFix(ctx, '"kmsKeyId":"<key ARN>","logging":"DEFAULT"')}`,
        );
      }
      const name = `\`${keyRef}\``;
      if (key.KeyState !== 'Enabled') {
        const fix =
          key.KeyState === 'PendingDeletion'
            ? `Cancel the deletion and enable it: \`aws kms cancel-key-deletion --key-id ${key.KeyId}\` then \`aws kms enable-key --key-id ${key.KeyId}\` (or point the cluster at another key).`
            : key.KeyState === 'Disabled'
              ? `\`aws kms enable-key --region ${key.Arn?.split(':')[3] ?? ctx.region} --key-id ${key.KeyId}\``
              : `Make the key usable again (state ${key.KeyState}) or point the cluster at another key: ${clusterConfigFix(ctx, '"kmsKeyId":"<key ARN>","logging":"DEFAULT"')}`;
        return fail(`the session key ${name} is ${key.KeyState}, not Enabled: every session fails to start`, fix);
      }
      const roleArn = taskDefinition.taskRoleArn;
      if (!roleArn) return fail(`sessions are encrypted with ${name}, but the task definition has no task role to decrypt them with`, NO_TASK_ROLE_FIX(ctx));
      const keyArn = key.Arn!;
      // The key policy has the last word for KMS: simulate the role's policies together with it.
      const { policy, error } = await readKeyPolicy(ctx, keyArn);
      const question = { label: 'task role', roleArn, actions: ['kms:Decrypt'], resources: [keyArn] };
      const bot = `The bot itself also needs \`kms:GenerateDataKey\` on this key to start sessions (\`/ecs run\`).`;
      if (!policy) {
        const problem = await checkPermission(ctx, question);
        if (problem) return problem;
        const why = describeCheckError(error);
        return unverified(
          `the task role's own policies allow \`kms:Decrypt\` on ${name}, but the key policy could not be read (${why.message.replace(/^could not check: /, '')}), so it is not verified as the task role`,
          why.fix ?? `Add to the bot's role: {"Effect":"Allow","Action":"kms:GetKeyPolicy","Resource":"${keyArn}"}`,
        );
      }
      const problem = await checkPermission(ctx, { ...question, resourcePolicy: policy });
      if (problem?.status === 'FAIL') {
        // Tell a key policy that leaves the role out (or denies it) from a role that lacks the permission.
        const alone = await checkPermission(ctx, question);
        if (!alone && problem.message.includes('explicitly denied')) {
          return fail(
            `the task role \`${roleName(roleArn)}\` may \`kms:Decrypt\` by its own policies, but a Deny statement in the policy of key ${name} blocks it: sessions cannot be decrypted in the container`,
            `Remove or narrow that Deny statement in the key policy (\`aws kms get-key-policy --key-id ${key.KeyId} --policy-name default\`).`,
          );
        }
        if (!alone) {
          const statement = JSON.stringify({ Sid: 'AllowEcsExecSessions', Effect: 'Allow', Principal: { AWS: roleArn }, Action: 'kms:Decrypt', Resource: '*' });
          return fail(
            `the task role \`${roleName(roleArn)}\` may \`kms:Decrypt\` by its own policies, but the policy of key ${name} does not let it (nor delegate to IAM): sessions cannot be decrypted in the container`,
            `Add this statement to the key policy (\`aws kms get-key-policy\` → edit → \`aws kms put-key-policy --key-id ${key.KeyId} --policy-name default --policy file://policy.json\`): ${statement}`,
          );
        }
      }
      if (problem) return problem;
      return ok(`sessions are encrypted with ${name} (Enabled) and the task role may \`kms:Decrypt\` with it. ${bot}`);
    },
  };
}

/** Where session output goes, and whether the task role (which writes it) may write there. */
function loggingCheck(taskDefinition: TaskDefinition): CheckSpec {
  return {
    id: 'exec:logging',
    family: 'exec',
    title: 'Session logging',
    group: GROUP,
    async run(ctx) {
      const config = await execConfiguration(ctx);
      const logging = config.logging ?? 'DEFAULT';
      if (logging === 'NONE') return skip('session output is not logged (logging NONE)');
      if (logging === 'DEFAULT') {
        const groups = [
          ...new Set(
            (taskDefinition.containerDefinitions ?? [])
              .filter((c) => c.logConfiguration?.logDriver === 'awslogs')
              .map((c) => c.logConfiguration?.options?.['awslogs-group'])
              .filter((g): g is string => !!g),
          ),
        ];
        if (groups.length === 0) return skip('logging DEFAULT, but no container uses awslogs, so session output is not logged');
        return ok(
          `logging DEFAULT: session output goes where the containers' awslogs configuration sends it (${marks(groups)}; the Logs checks cover those groups)`,
        );
      }
      const lc = config.logConfiguration ?? {};
      if (!lc.cloudWatchLogGroupName && !lc.s3BucketName) return skip('logging OVERRIDE without a log group or bucket: session output is not logged');
      const roleArn = taskDefinition.taskRoleArn;
      if (!roleArn) return fail('session output is written with the task role, but the task definition has none', NO_TASK_ROLE_FIX(ctx));
      const account = await ctx.accountId();
      const parts: Array<Promise<CheckOutcome[]>> = [];
      const done: string[] = [];
      if (lc.cloudWatchLogGroupName) {
        const name = lc.cloudWatchLogGroupName;
        parts.push(
          (async () => {
            const found: CheckOutcome[] = [];
            // Often also a container's awslogs group: the Logs checks' lookup is shared (one call).
            const { group } = await logGroupLookup(ctx, ctx.region, name);
            const groupArn = `arn:aws:logs:${ctx.region}:${account}:log-group:${name}`;
            if (!group) {
              found.push(
                fail(
                  `the session log group \`${name}\` does not exist: sessions fail to start`,
                  `\`aws logs create-log-group --region ${ctx.region} --log-group-name ${name}${lc.cloudWatchEncryptionEnabled ? ' --kms-key-id <key ARN>' : ''}\``,
                ),
              );
            } else if (lc.cloudWatchEncryptionEnabled && !group.kmsKeyId) {
              found.push(
                fail(
                  `the cluster requires session log group \`${name}\` to be encrypted, but it has no KMS key: sessions fail to start`,
                  `\`aws logs associate-kms-key --region ${ctx.region} --log-group-name ${name} --kms-key-id <key ARN>\` (or turn \`cloudWatchEncryptionEnabled\` off)`,
                ),
              );
            }
            const [write, describe] = await Promise.all([
              checkPermission(ctx, {
                label: 'task role',
                roleArn,
                actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
                resources: [`${groupArn}:*`],
              }),
              checkPermission(ctx, {
                label: 'task role',
                roleArn,
                actions: ['logs:DescribeLogGroups'],
                resources: [`arn:aws:logs:${ctx.region}:${account}:log-group:*`],
              }),
            ]);
            found.push(...[write, describe].filter((p): p is CheckOutcome => !!p));
            if (found.length === 0) done.push(`CloudWatch Logs \`${name}\``);
            return found;
          })(),
        );
      }
      if (lc.s3BucketName) {
        const bucket = lc.s3BucketName;
        parts.push(
          (async () => {
            const prefix = lc.s3KeyPrefix ? lc.s3KeyPrefix.replace(/^\//, '') : '';
            const checks = [checkPermission(ctx, { label: 'task role', roleArn, actions: ['s3:PutObject'], resources: [`arn:aws:s3:::${bucket}/${prefix}*`] })];
            if (lc.s3EncryptionEnabled)
              checks.push(
                checkPermission(ctx, { label: 'task role', roleArn, actions: ['s3:GetEncryptionConfiguration'], resources: [`arn:aws:s3:::${bucket}`] }),
              );
            const found = (await Promise.all(checks)).filter((p): p is CheckOutcome => !!p);
            if (found.length === 0) done.push(`S3 \`s3://${bucket}/${prefix}\` (the bucket itself is not checked)`);
            return found;
          })(),
        );
      }
      const problems = (await Promise.all(parts)).flat();
      if (problems.length === 0) return ok(`logging OVERRIDE: the task role may write session output to ${done.join(' and ')}`);
      return combine(problems);
    },
  };
}

/** Several findings as one outcome: the worst status, every message and fix. */
function combine(outcomes: CheckOutcome[]): CheckOutcome {
  const failed = outcomes.some((o) => o.status === 'FAIL');
  const fixes = [...new Set(outcomes.map((o) => o.fix).filter((f): f is string => !!f))];
  return {
    status: failed ? 'FAIL' : 'WARN',
    message: outcomes.map((o) => o.message).join('; '),
    ...(fixes.length ? { fix: fixes.join(' ') } : {}),
    // A FAIL stands on its own; a WARN made only of checks that could not run is "not verified".
    ...(!failed && outcomes.every((o) => o.unverified) ? { unverified: true } : {}),
  };
}
