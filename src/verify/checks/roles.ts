/**
 * Roles: the task role and the task execution role of the task definition exist and let ECS
 * (`ecs-tasks.amazonaws.com`) assume them; a task that needs an execution role has one.
 *
 * Trust is read from the role's own trust policy (GetRole), not simulated: SimulatePrincipalPolicy
 * answers what a role may do, not who may become it. The policy is evaluated the way STS would for
 * ECS assuming the role for a task of this cluster: the Allow statements for the service principal,
 * Deny statements, and the confused-deputy conditions AWS recommends (aws:SourceAccount,
 * aws:SourceArn) against this account and a task ARN of this cluster. Conditions on other keys are
 * named, not guessed.
 */
import type { Cluster, Service, TaskDefinition } from '@aws-sdk/client-ecs';
import type { Role } from '@aws-sdk/client-iam';
import { roleName } from '../../aws/arn';
import { parseImageRef, ImageReferenceError } from '../../ecs/images';
import { launchKinds, type LaunchKind } from '../../ecs/launch';
import type { VerifyContext } from '../context';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, warn } from '../types';
import { listWords, mark } from '../text';

const ECS_TASKS_PRINCIPAL = 'ecs-tasks.amazonaws.com';
const TASK_EXECUTION_POLICY = 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy';

type RoleKind = 'task' | 'execution';
const LABEL: Record<RoleKind, string> = { task: 'task role', execution: 'execution role' };

export const roleChecks: Planner = ({ taskDefinition, service }) => [
  roleCheck('execution', taskDefinition, service),
  roleCheck('task', taskDefinition, service),
];

function roleCheck(kind: RoleKind, td: TaskDefinition, service: Service): CheckSpec {
  const arn = kind === 'task' ? td.taskRoleArn : td.executionRoleArn;
  const label = LABEL[kind];
  return {
    id: `role:${kind}`,
    family: 'roles',
    title: arn ? `${capitalize(label)} \`${roleName(arn)}\`` : capitalize(label),
    group: ['TaskDefinition'],
    async run(ctx) {
      if (!arn) return kind === 'task' ? noTaskRole(await ctx.launchKinds()) : noExecutionRole(td, service, await ctx.cluster().catch(() => undefined));
      return assessRole(ctx, kind, arn);
    },
  };
}

function noTaskRole(kinds: ReadonlySet<LaunchKind>): CheckOutcome {
  const ec2 = kinds.has('EC2');
  return skip(
    ec2
      ? 'no task role: containers get no AWS credentials of their own (on EC2 they may still reach the container instance role)'
      : 'no task role: containers get no AWS credentials (fine if the application calls no AWS API)',
  );
}

function noExecutionRole(td: TaskDefinition, service: Service, cluster: Cluster | undefined): CheckOutcome {
  const needs = executionRoleNeeds(td, service, cluster);
  if (needs.length === 0) return skip('no execution role, and none is needed (no private ECR image, no awslogs logging, no secrets)');
  return fail(
    `no execution role, but the task needs one to ${listWords(needs.map((n) => n.what))}: ECS cannot start it`,
    `Set \`executionRoleArn\` in the task definition to a role that trusts \`${ECS_TASKS_PRINCIPAL}\` and has the AWS managed policy \`AmazonECSTaskExecutionRolePolicy\` (plus read access to the secrets), e.g. \`ecsTaskExecutionRole\`.`,
  );
}

async function assessRole(ctx: VerifyContext, kind: RoleKind, arn: string): Promise<CheckOutcome> {
  const label = LABEL[kind];
  const name = roleName(arn);
  const account = await ctx.accountId();
  const partition = partitionOf(arn) ?? partitionOf((await ctx.cluster())?.clusterArn) ?? 'aws';
  const roleAccount = arn.startsWith('arn:') ? arn.split(':')[4] : undefined;
  const trustJson = JSON.stringify(recommendedTrust(partition, ctx.region, account));

  // ECS passes the role to the task in the task's own account: another account's role never works.
  if (roleAccount && roleAccount !== account) {
    return fail(
      `the ${label} \`${arn}\` is in account \`${roleAccount}\`, but the task runs in \`${account}\`: ECS can only use roles of the task's account`,
      `Use a role in account \`${account}\` (\`${kind === 'task' ? 'taskRoleArn' : 'executionRoleArn'}\` in the task definition).`,
    );
  }

  const role = await ctx.role(arn);
  if (!role) {
    const path = rolePath(arn);
    return fail(
      `the ${label} \`${name}\` does not exist in account \`${account}\`: ECS cannot start tasks with it`,
      `Create it — \`aws iam create-role --role-name ${name}${path !== '/' ? ` --path ${path}` : ''} --assume-role-policy-document '${trustJson}'\`` +
        (kind === 'execution'
          ? ` and \`aws iam attach-role-policy --role-name ${name} --policy-arn ${TASK_EXECUTION_POLICY.replace('arn:aws:', `arn:${partition}:`)}\``
          : '') +
        ` — or fix \`${kind === 'task' ? 'taskRoleArn' : 'executionRoleArn'}\` in the task definition.`,
    );
  }

  // A full ARN must match the role's real ARN, path included (`role/app/web` is not `role/web`).
  if (arn.startsWith('arn:') && role.Arn && role.Arn !== arn) {
    return fail(
      `the task definition names the ${label} \`${arn}\`, but the role \`${name}\` is \`${role.Arn}\` (its path differs): ECS cannot assume the ARN as written`,
      `Set \`${kind === 'task' ? 'taskRoleArn' : 'executionRoleArn'}\` to \`${role.Arn}\` in the task definition.`,
    );
  }

  const trust = assessTrust(role, { partition, region: ctx.region, account, cluster: (await ctx.cluster())?.clusterName ?? ctx.target.cluster });
  const fix = trustFix(name, trustJson, trust.others);
  const consequence =
    kind === 'execution' ? 'tasks cannot start (no image pull, logs or secrets)' : 'tasks fail to start ("ECS was unable to assume the role")';

  if (trust.parseError) {
    return fail(`the trust policy of the ${label} \`${name}\` could not be read (${trust.parseError})`, fix);
  }
  if (trust.deny) {
    return fail(`the trust policy of the ${label} \`${name}\` denies \`${ECS_TASKS_PRINCIPAL}\` (${trust.deny}): ${consequence}`, fix);
  }
  if (!trust.allow) {
    if (trust.rejected.length) {
      return fail(
        `the ${label} \`${name}\` trusts \`${ECS_TASKS_PRINCIPAL}\` only under conditions a task of this service does not meet: ${trust.rejected.join('; ')}. So ${consequence}`,
        fix,
      );
    }
    const instead = trust.others.length
      ? `trusts ${listWords(trust.others.map(mark))}, not \`${ECS_TASKS_PRINCIPAL}\``
      : `does not let \`${ECS_TASKS_PRINCIPAL}\` assume it`;
    return fail(`the ${label} \`${name}\` ${instead}: ${consequence}`, fix);
  }
  if (trust.allow.wildcard) {
    return warn(
      `the ${label} \`${name}\` trusts every principal (\`"Principal": "*"\`): ECS can assume it, but so can anyone the conditions let through`,
      `Trust only ECS tasks. ${fix}`,
    );
  }
  if (trust.mayDeny) {
    return warn(
      `the ${label} \`${name}\` trusts \`${ECS_TASKS_PRINCIPAL}\`, but its trust policy denies it under conditions the bot cannot evaluate (${trust.mayDeny})`,
      `Make sure the Deny does not match ECS assuming the role for a task, or narrow it. ${fix}`,
    );
  }
  if (trust.allow.unevaluated.length) {
    return warn(
      `the ${label} \`${name}\` trusts \`${ECS_TASKS_PRINCIPAL}\` only under conditions the bot cannot evaluate: ${listWords(trust.allow.unevaluated)}`,
      `Make sure ECS meets these conditions when it assumes the role for a task, or drop them. ${fix}`,
    );
  }
  const guards = trust.allow.conditions.length ? ` (conditions met: ${trust.allow.conditions.join(', ')})` : '';
  return ok(`the ${label} \`${name}\` exists and trusts \`${ECS_TASKS_PRINCIPAL}\`${guards}`);
}

// Trust policy evaluation ----------------------------------------------------------------------

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export interface TrustTarget {
  partition: string;
  region: string;
  account: string;
  cluster: string;
}

export interface TrustAssessment {
  /** The statement that lets ECS assume the role, with what its conditions amount to. */
  allow?: { wildcard: boolean; conditions: string[]; unevaluated: string[] };
  /** A Deny statement that applies, described. */
  deny?: string;
  /** A Deny statement that applies under conditions the bot cannot evaluate. */
  mayDeny?: string;
  /** Why statements naming ecs-tasks did not apply (conditions not met). */
  rejected: string[];
  /** Other principals the policy trusts (for "trusts ec2.amazonaws.com, not ecs-tasks"). */
  others: string[];
  parseError?: string;
}

/** Whether the role's trust policy lets ECS assume it for a task of `target`'s cluster. */
export function assessTrust(role: Pick<Role, 'AssumeRolePolicyDocument'>, target: TrustTarget): TrustAssessment {
  const result: TrustAssessment = { rejected: [], others: [] };
  let statements: Statement[];
  try {
    statements = parseStatements(role.AssumeRolePolicyDocument);
  } catch (error) {
    return { ...result, parseError: (error as Error).message };
  }
  // What STS sees when ECS assumes the role for one of this cluster's tasks.
  const request: Record<string, string> = {
    'aws:sourceaccount': target.account,
    'aws:sourcearn': `arn:${target.partition}:ecs:${target.region}:${target.account}:task/${target.cluster}/0123456789abcdef0123456789abcdef`,
  };

  for (const s of statements) {
    if (!matchesAction(s)) continue;
    const effect = String(s.Effect ?? '').toLowerCase();
    const principal = principalMatch(s);
    if (effect === 'allow') {
      if (principal === 'none') {
        result.others.push(...principalNames(s.Principal));
        continue;
      }
      const cond = evaluateConditions(s.Condition, request);
      if (cond.failed.length) {
        result.rejected.push(...cond.failed);
        continue;
      }
      // Prefer a statement that names ECS outright over `Principal: *`, and one without unknown conditions.
      const candidate = { wildcard: principal === 'wildcard', conditions: cond.met, unevaluated: cond.unevaluated };
      if (!result.allow || rank(candidate) < rank(result.allow)) result.allow = candidate;
    } else if (effect === 'deny' && principal !== 'none') {
      const cond = evaluateConditions(s.Condition, request);
      // A Deny whose conditions all hold applies; one with conditions the bot cannot judge may apply.
      if (cond.failed.length) continue;
      const which = `statement ${s.Sid ? `\`${s.Sid}\`` : 'without Sid'}`;
      if (cond.unevaluated.length) result.mayDeny ??= `${which}, when ${listWords(cond.unevaluated)}`;
      else result.deny ??= which;
    }
  }
  result.others = [...new Set(result.others)];
  return result;
}

const rank = (a: { wildcard: boolean; unevaluated: string[] }) => (a.wildcard ? 2 : 0) + (a.unevaluated.length ? 1 : 0);

function parseStatements(document: string | undefined): Statement[] {
  if (!document) throw new Error('GetRole returned no trust policy');
  // IAM returns policy documents URL-encoded (RFC 3986); a decoded one starts with `{`.
  let text = document.trim();
  if (!text.startsWith('{')) text = decodeURIComponent(text.replace(/\+/g, '%20'));
  const doc = JSON.parse(text) as { Statement?: Statement | Statement[] };
  if (!doc || typeof doc !== 'object' || !doc.Statement) throw new Error('it has no Statement');
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}

const asList = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const glob = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    flags,
  );

function matchesAction(s: Statement): boolean {
  const hit = (patterns: string[]) => patterns.some((p) => glob(p, 'i').test('sts:AssumeRole'));
  if (s.Action !== undefined) return hit(asList(s.Action));
  if (s.NotAction !== undefined) return !hit(asList(s.NotAction));
  return false;
}

function isEcsTasks(service: string): boolean {
  // The China partition spells some service principals with `.com.cn`; accept both.
  return /^ecs-tasks\.amazonaws\.com(\.cn)?$/i.test(service);
}

/** Whether a statement's Principal (or NotPrincipal) covers ecs-tasks.amazonaws.com. */
function principalMatch(s: Statement): 'service' | 'wildcard' | 'none' {
  if (s.NotPrincipal !== undefined) {
    // NotPrincipal: everyone except those listed (only meaningful with Deny).
    return principalNames(s.NotPrincipal).some(isEcsTasks) ? 'none' : 'wildcard';
  }
  const p = s.Principal;
  if (p === '*') return 'wildcard';
  if (p && typeof p === 'object') {
    const map = p as Record<string, unknown>;
    if (asList(map.Service).some(isEcsTasks)) return 'service';
    if (asList(map.AWS).includes('*')) return 'wildcard';
  }
  return 'none';
}

function principalNames(p: unknown): string[] {
  if (typeof p === 'string') return [p];
  if (!p || typeof p !== 'object') return [];
  return Object.values(p as Record<string, unknown>).flatMap(asList);
}

/**
 * Evaluates the condition keys ECS sets when it assumes a task's role; everything else is left
 * for a person to judge (named in `unevaluated`), never assumed true or false.
 */
function evaluateConditions(condition: Statement['Condition'], request: Record<string, string>): { met: string[]; failed: string[]; unevaluated: string[] } {
  const out = { met: [] as string[], failed: [] as string[], unevaluated: [] as string[] };
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    const base = operator.replace(/^For(?:Any|All)Values:/i, '').replace(/IfExists$/i, '');
    for (const [key, raw] of Object.entries(keys ?? {})) {
      const values = asList(raw);
      const actual = request[key.toLowerCase()];
      const described = `\`${key}\` ${operator} ${values.map((v) => `\`${v}\``).join(' or ')}`;
      const test = actual === undefined ? undefined : compare(base, actual, values);
      if (test === undefined) out.unevaluated.push(described);
      else if (test) out.met.push(`\`${key}\``);
      else out.failed.push(`${described}, but ECS sends \`${actual}\``);
    }
  }
  return out;
}

function compare(operator: string, actual: string, values: string[]): boolean | undefined {
  switch (operator.toLowerCase()) {
    case 'stringequals':
    case 'arnequals':
      return values.includes(actual);
    case 'stringequalsignorecase':
      return values.some((v) => v.toLowerCase() === actual.toLowerCase());
    case 'stringlike':
    case 'arnlike':
      return values.some((v) => glob(v).test(actual));
    case 'stringnotequals':
    case 'arnnotequals':
      return !values.includes(actual);
    case 'stringnotlike':
    case 'arnnotlike':
      return !values.some((v) => glob(v).test(actual));
    default:
      return undefined;
  }
}

/** The trust policy AWS documents for ECS task and execution roles, with the confused-deputy guard. */
function recommendedTrust(partition: string, region: string, account: string) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: ECS_TASKS_PRINCIPAL },
        Action: 'sts:AssumeRole',
        Condition: {
          ArnLike: { 'aws:SourceArn': `arn:${partition}:ecs:${region}:${account}:*` },
          StringEquals: { 'aws:SourceAccount': account },
        },
      },
    ],
  };
}

function trustFix(name: string, trustJson: string, others: string[]): string {
  const keep = others.length ? `; if something else really uses the role as ${listWords(others.map(mark))}, keep its statement in the document too` : '';
  return `Let ECS tasks assume it (with AWS's confused-deputy guard for this account and region): \`aws iam update-assume-role-policy --role-name ${name} --policy-document '${trustJson}'\`. This replaces the whole trust policy${keep}.`;
}

// What needs an execution role -------------------------------------------------------------------

export interface ExecutionRoleNeed {
  /** "pull `web:v1.4.2` from Amazon ECR". */
  what: string;
}

/**
 * Why the task needs an execution role (AWS: "IAM roles for Amazon ECS"): on Fargate and external
 * instances for private ECR images and awslogs; everywhere for private registry credentials,
 * secrets and S3 environment files. On EC2 the container instance role covers ECR and awslogs.
 */
export function executionRoleNeeds(td: TaskDefinition, service: Service | undefined, cluster?: Cluster): ExecutionRoleNeed[] {
  // Only when every task runs on EC2 does the instance role cover ECR and awslogs for all of them.
  const onInstances = [...launchKinds(service, cluster, td)].every((kind) => kind === 'EC2');
  const ecr = new Set<string>();
  const awslogs = new Set<string>();
  const secrets: string[] = [];
  const credentials: string[] = [];
  const envFiles: string[] = [];
  for (const c of td.containerDefinitions ?? []) {
    try {
      if (c.image && parseImageRef(c.image).kind === 'ecr') ecr.add(c.image.split('/').pop()!);
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
    }
    if (c.logConfiguration?.logDriver === 'awslogs') awslogs.add(c.logConfiguration.options?.['awslogs-group'] ?? c.name ?? '?');
    for (const s of [...(c.secrets ?? []), ...(c.logConfiguration?.secretOptions ?? [])]) secrets.push(`${c.name}/${s.name}`);
    if (c.repositoryCredentials?.credentialsParameter) credentials.push(c.name ?? '?');
    for (const f of c.environmentFiles ?? []) if (f.value) envFiles.push(f.value);
  }
  const listed = (xs: Iterable<string>) => listWords([...xs].map(mark));
  const needs: ExecutionRoleNeed[] = [];
  if (!onInstances && ecr.size) needs.push({ what: `pull ${listed(ecr)} from Amazon ECR` });
  if (!onInstances && awslogs.size) needs.push({ what: `send logs to CloudWatch Logs (${listed(awslogs)})` });
  if (secrets.length) needs.push({ what: `read the secrets ${listed(secrets)}` });
  if (credentials.length) needs.push({ what: `read the private registry credentials of ${listed(credentials)}` });
  if (envFiles.length) needs.push({ what: `read the environment files ${listed(envFiles)}` });
  return needs;
}

// Small helpers ----------------------------------------------------------------------------------

const rolePath = (arn: string) => {
  const parts = arn.split(':role')[1]?.split('/') ?? [];
  return parts.length > 2 ? `${parts.slice(0, -1).join('/')}/` : '/';
};
const partitionOf = (arn: string | undefined) => (arn?.startsWith('arn:') ? arn.split(':')[1] : undefined);
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
