import { randomBytes } from 'node:crypto';
import { CloudWatchLogsClient, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { roleName } from '../../aws/arn';
import type { LaunchKind } from '../../ecs/launch';
import type { VerifyContext } from '../context';
import { describeCheckError } from '../errors';
import { checkPermission } from '../permissions';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, unverified } from '../types';
import { listWords, mark } from '../text';
import { logGroupLookup } from './lookups';

/**
 * The logs family: every CloudWatch log group the task's `awslogs` containers write to exists (in
 * the right region) and the execution role may write to it; with put-logs on, one test line proves
 * it as ecspresso's `verify --put-logs` does. Checks are per log group, not per container, so the
 * web task's `app` and `log-router` sharing `/ecs/web` cost one lookup and one simulation.
 */

/** One log group and the containers that write to it. */
interface LogTarget {
  region: string;
  name: string;
  containers: string[];
  /** Containers that set `awslogs-create-group: true` (ECS creates the group for them). */
  creators: string[];
}

const ROLE_LABEL = 'execution role';
/** "`app`", "`app` and `log-router`", "`a`, `b` and `c`". */
const listOf = (names: string[]) => listWords(names.map(mark));
const partitionOf = (td: TaskDefinition) => td.executionRoleArn?.split(':')[1] || td.taskDefinitionArn?.split(':')[1] || 'aws';

export const logChecks: Planner = ({ ctx, taskDefinition }) => {
  const specs: CheckSpec[] = [];
  const targets = new Map<string, LogTarget>();
  const containers = taskDefinition.containerDefinitions ?? [];
  const router = containers.find((c) => c.firelensConfiguration)?.name;

  for (const container of containers) {
    const name = container.name ?? '?';
    const config = container.logConfiguration;
    if (config?.logDriver !== 'awslogs') {
      specs.push(notAwslogs(container, router));
      continue;
    }
    const group = config.options?.['awslogs-group'];
    if (!group) {
      const missing = fail(
        `container ${mark(name)} uses the \`awslogs\` driver without \`awslogs-group\`: the task cannot start`,
        `Add \`"awslogs-group": "/ecs/${taskDefinition.family ?? name}"\` to the container's \`logConfiguration.options\`.`,
      );
      specs.push(containerSpec(name, async () => missing));
      continue;
    }
    // awslogs-region is optional on EC2 (the instance's region); the target's region is where the task runs.
    const region = config.options?.['awslogs-region'] || ctx.region;
    const key = `${region}|${group}`;
    const target = targets.get(key) ?? { region, name: group, containers: [], creators: [] };
    target.containers.push(name);
    if (config.options?.['awslogs-create-group']?.toLowerCase() === 'true') target.creators.push(name);
    targets.set(key, target);
  }

  for (const target of targets.values()) specs.push(...groupSpecs(ctx, taskDefinition, target));
  return specs;
};

function containerSpec(container: string, run: () => Promise<CheckOutcome>): CheckSpec {
  return { id: `logs:${container}`, family: 'logs', title: 'Logs', group: ['TaskDefinition', `Container ${container}`], run };
}

/** Drivers other than awslogs are not followed: say where the logs go, as a SKIP. */
function notAwslogs(container: ContainerDefinition, router: string | undefined): CheckSpec {
  const name = container.name ?? '?';
  const driver: string | undefined = container.logConfiguration?.logDriver;
  let why: string;
  if (!driver) why = 'no `logConfiguration`: the output is not sent to CloudWatch (on Fargate it is discarded)';
  else if (driver === 'awsfirelens') {
    why = router
      ? `logs go through FireLens (${mark(router)}) to wherever its configuration sends them; only \`awslogs\` destinations are checked (the router's own awslogs group is)`
      : 'logs go through FireLens, but no container has a `firelensConfiguration`: check the task definition';
  } else if (driver === 'none') why = 'log driver `none`: the output is discarded';
  else why = `log driver ${mark(driver)} sends logs outside CloudWatch; only \`awslogs\` is checked`;
  return containerSpec(name, async () => skip(why));
}

function groupSpecs(ctx: VerifyContext, td: TaskDefinition, target: LogTarget): CheckSpec[] {
  const { region, name } = target;
  const id = `logs:${region}:${name}`;
  const group = ['TaskDefinition', 'Logs'];
  const where = region === ctx.region ? '' : ` in ${region}`;
  const users = `${target.containers.length === 1 ? 'container' : 'containers'} ${listOf(target.containers)}`;
  const usedBy = `used by ${users}`;
  const execRole = td.executionRoleArn;
  const groupArn = async () => `arn:${partitionOf(td)}:logs:${region}:${await ctx.accountId()}:log-group:${name}`;

  const exists: CheckSpec = {
    id,
    family: 'logs',
    title: `Log group ${mark(name)}${where}`,
    group,
    async run(ctx) {
      const { group: found, similar } = await logGroupLookup(ctx, region, name);
      if (found) {
        const retention = found.retentionInDays ? `${found.retentionInDays}-day retention` : 'kept forever (no retention set)';
        return ok(`log group ${mark(name)} exists in ${region} (${retention}); ${usedBy}`);
      }
      const create = `\`aws logs create-log-group --log-group-name ${name} --region ${region}\``;
      const lookalike = similar.length ? ` A similar group exists: ${listOf(similar)}; if that is the one meant, change \`awslogs-group\` to it.` : '';
      const everyoneCreates = target.creators.length === target.containers.length;
      if (!everyoneCreates) {
        const partly = target.creators.length ? ` (only ${listOf(target.creators)} set \`awslogs-create-group\`, and another container may start first)` : '';
        return fail(
          `log group ${mark(name)} does not exist in ${region}${partly}: tasks cannot start, since the awslogs driver of ${users} has nowhere to write.${lookalike}`,
          `Create it: ${create}.`,
        );
      }
      // awslogs-create-group: ECS creates the group on first start, as the execution role.
      if (!execRole) return noExecutionRole(await ctx.launchKinds(), `create the log group ${mark(name)}`, ['logs:CreateLogGroup']);
      const problem = await checkPermission(ctx, {
        label: ROLE_LABEL,
        roleArn: execRole,
        actions: ['logs:CreateLogGroup'],
        resources: [`${await groupArn()}:*`],
      });
      if (!problem) {
        return ok(
          `log group ${mark(name)} does not exist yet in ${region}; ECS creates it when a task starts (\`awslogs-create-group\` is on) and the execution role ${mark(roleName(execRole))} may \`logs:CreateLogGroup\``,
        );
      }
      if (problem.status !== 'FAIL') return problem;
      return fail(
        `log group ${mark(name)} does not exist in ${region}, and although \`awslogs-create-group\` is on, ${problem.message}: tasks will fail to start.${lookalike}`,
        `Create the group (${create}), or let ECS create it: ${problem.fix ?? 'allow `logs:CreateLogGroup` on the execution role.'}`,
      );
    },
  };

  const write: CheckSpec = {
    id: `logs-write:${region}:${name}`,
    family: 'logs',
    title: `Writing to ${mark(name)}${where}`,
    group,
    needs: [id],
    async run(ctx) {
      if (!execRole) return noExecutionRole(await ctx.launchKinds(), `write to ${mark(name)}`, ['logs:CreateLogStream', 'logs:PutLogEvents']);
      const problem = await checkPermission(ctx, {
        label: ROLE_LABEL,
        roleArn: execRole,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${await groupArn()}:log-stream:*`],
      });
      if (problem) return problem;
      const allowed = `the execution role ${mark(roleName(execRole))} may create log streams and put events in ${mark(name)}`;
      if (!ctx.options.putLogs) return ok(`${allowed}; no test line was written (put-logs is off)`);
      if (!(await logGroupLookup(ctx, region, name)).group) return ok(`${allowed}; no test line was written: the group does not exist until ECS creates it`);
      try {
        const stream = await putTestLine(ctx, region, name);
        return ok(`${allowed}; wrote a test line to stream ${mark(stream)} as the bot (put-logs is on)`);
      } catch (error) {
        // The role's permission is proven; only the bot's own write failed, so this is not a FAIL.
        const why = describeCheckError(error);
        return unverified(`${allowed}, but the test line could not be written: ${why.message.replace(/^could not check: /, '')}`, why.fix);
      }
    },
  };
  return [exists, write];
}

/** Without an execution role, Fargate cannot use awslogs at all; on EC2 the instance role writes (not checked here). */
function noExecutionRole(kinds: ReadonlySet<LaunchKind>, what: string, actions: string[]): CheckOutcome {
  if (kinds.has('FARGATE')) {
    return fail(
      `the task definition has no execution role, which Fargate needs to ${what}`,
      `Set \`executionRoleArn\` to a role trusted by \`ecs-tasks.amazonaws.com\` that may ${actions.map(mark).join(', ')} (the AWS managed policy \`AmazonECSTaskExecutionRolePolicy\` grants the log permissions).`,
    );
  }
  return unverified(
    `not verified: without an execution role the container instance role is used to ${what}, and that role is not checked`,
    `Make sure the container instance role allows ${actions.map(mark).join(', ')}, or set an execution role.`,
  );
}

/** Writes one line as the bot, in a stream of its own (never one a task writes to). */
function putTestLine(ctx: VerifyContext, region: string, group: string): Promise<string> {
  return ctx.once(`logs:put:${region}:${group}`, async () => {
    const client = ctx.aws.client(CloudWatchLogsClient, region);
    const now = new Date();
    const stream = `ecs-chatops-verify/${now.toISOString().slice(0, 10)}/${randomBytes(4).toString('hex')}`;
    const user = ctx.aws.actor.userName ?? ctx.aws.actor.userId;
    await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
    await client.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: stream,
        logEvents: [{ timestamp: now.getTime(), message: `ecs-chatops verify: ${ctx.alias} by ${user}` }],
      }),
    );
    return stream;
  });
}
