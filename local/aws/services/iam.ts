/**
 * AWS IAM (query protocol, Version 2010-05-08): role details and the policy simulator, so the bot
 * can check permissions "as the role that will use them" (SimulatePrincipalPolicy) without ever
 * assuming the task or execution role.
 *
 * Roles themselves live in EmulatorState (STS needs them); what IAM adds — trust policy, attached
 * and inline policies — is kept here per account. Policy documents are stored as text, because
 * IAM returns them (URL-encoded) as written and the simulator reports statement positions in it.
 */
import { evaluate, policyText, type PolicyDocument, type SourcePolicy } from '../policy';
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import type { AccountState, EmulatorState, Role } from '../state';

export interface ManagedPolicy {
  arn: string;
  name: string;
  path: string;
  text: string;
}

export interface RoleDetails {
  trustPolicy: string;
  /** Managed policy ARNs. */
  attached: string[];
  /** Inline policies by name. */
  inline: Map<string, string>;
  description?: string;
  path: string;
  tags: Array<{ Key: string; Value: string }>;
}

interface IamState {
  /** Customer managed policies by ARN. */
  policies: Map<string, ManagedPolicy>;
  roles: Map<string, RoleDetails>;
}

const stores = new WeakMap<AccountState, IamState>();
export const iamState = (account: AccountState): IamState =>
  stores.get(account) ?? stores.set(account, { policies: new Map(), roles: new Map() }).get(account)!;

/** The AWS managed policies the seed uses, with their real contents. */
export const AWS_MANAGED_POLICIES: ReadonlyMap<string, ManagedPolicy> = new Map(
  [
    {
      arn: 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy',
      name: 'AmazonECSTaskExecutionRolePolicy',
      path: '/service-role/',
      text: policyText({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'ecr:GetAuthorizationToken',
              'ecr:BatchCheckLayerAvailability',
              'ecr:GetDownloadUrlForLayer',
              'ecr:BatchGetImage',
              'logs:CreateLogStream',
              'logs:PutLogEvents',
            ],
            Resource: '*',
          },
        ],
      }),
    },
    {
      arn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      name: 'AdministratorAccess',
      path: '/',
      text: policyText({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
    },
  ].map((p) => [p.arn, p]),
);

/** A trust policy letting a service (e.g. `ecs-tasks.amazonaws.com`) or an AWS principal assume the role. */
export function trustPolicy(principal: { Service: string } | { AWS: string }, condition?: Record<string, Record<string, string | string[]>>): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }],
  };
}

/** Creates (or completes) a role with its trust policy and permissions; used by the seed and tests. */
export function putRole(
  state: EmulatorState,
  accountId: string,
  name: string,
  spec: {
    trust: PolicyDocument;
    attached?: string[];
    inline?: Record<string, PolicyDocument>;
    description?: string;
    tags?: Record<string, string>;
  },
): Role {
  const role = state.account(accountId).iam.roles.get(name) ?? state.addRole(accountId, name);
  iamState(state.account(accountId)).roles.set(name, {
    trustPolicy: policyText(spec.trust),
    attached: spec.attached ?? [],
    inline: new Map(Object.entries(spec.inline ?? {}).map(([k, v]) => [k, policyText(v)])),
    ...(spec.description ? { description: spec.description } : {}),
    path: '/',
    tags: Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
  });
  return role;
}

/** Registers a customer managed policy in an account and returns its ARN. */
export function putManagedPolicy(state: EmulatorState, accountId: string, name: string, doc: PolicyDocument): string {
  const arn = `arn:aws:iam::${accountId}:policy/${name}`;
  iamState(state.account(accountId)).policies.set(arn, { arn, name, path: '/', text: policyText(doc) });
  return arn;
}

function findRole(ctx: CallContext, name: string): { role: Role; details: RoleDetails } {
  const account = ctx.state.account(ctx.accountId);
  const role = account.iam.roles.get(name);
  if (!role) throw new AwsError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
  // Roles made elsewhere (STS tests, addRole) trust their own account, as the console's default does.
  const details = iamState(account).roles.get(name) ?? {
    trustPolicy: policyText(trustPolicy({ AWS: `arn:aws:iam::${ctx.accountId}:root` })),
    attached: [],
    inline: new Map(),
    path: '/',
    tags: [],
  };
  return { role, details };
}

function managedPolicy(ctx: CallContext, arn: string): ManagedPolicy | undefined {
  return managedPolicyOf(ctx.state, ctx.accountId, arn);
}
const managedPolicyOf = (state: EmulatorState, accountId: string, arn: string): ManagedPolicy | undefined =>
  AWS_MANAGED_POLICIES.get(arn) ?? iamState(state.account(accountId)).policies.get(arn);

/** Every identity-based policy of a role, labelled as the simulator labels them. */
function rolePolicies(ctx: CallContext, details: RoleDetails): SourcePolicy[] {
  return policiesOf(ctx.state, ctx.accountId, details);
}
function policiesOf(state: EmulatorState, accountId: string, details: RoleDetails): SourcePolicy[] {
  return [
    ...[...details.inline].map(([id, text]): SourcePolicy => ({ id, type: 'role', text })),
    ...details.attached.flatMap((arn): SourcePolicy[] => {
      const policy = managedPolicyOf(state, accountId, arn);
      return policy ? [{ id: policy.name, type: arn.startsWith('arn:aws:iam::aws:') ? 'aws-managed' : 'user-managed', text: policy.text }] : [];
    }),
  ];
}

/** A role's identity-based policies and trust policy, by role ARN (undefined for a role IAM does not detail). */
export function roleDocuments(state: EmulatorState, roleArn: string): { policies: SourcePolicy[]; trust: SourcePolicy } | undefined {
  const role = state.findRole(roleArn);
  const details = role && iamState(state.account(role.accountId)).roles.get(role.name);
  if (!role || !details) return undefined;
  return { policies: policiesOf(state, role.accountId, details), trust: { id: 'TrustPolicy', type: 'resource', text: details.trustPolicy } };
}

const roleArn = (p: Params, ctx: CallContext) => [`arn:aws:iam::${ctx.accountId}:role/${p.RoleName ?? ''}`];

function parsePolicy(text: string, member: string): string {
  try {
    const doc = JSON.parse(text);
    if (doc && typeof doc === 'object' && 'Statement' in doc) return text;
  } catch {}
  throw new AwsError('MalformedPolicyDocument', `${member} is not a valid policy document.`);
}

function simulatePrincipalPolicy(p: Params, ctx: CallContext) {
  const source = String(p.PolicySourceArn ?? '');
  const match = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(source);
  if (!match) {
    // Users and groups are not modelled; a malformed ARN is what IAM rejects as InvalidInput.
    throw new AwsError('InvalidInput', `Invalid ARN: ${source} is not a role ARN this emulator knows how to simulate.`);
  }
  const [accountId, roleName] = [match[1]!, match[2]!];
  if (accountId !== ctx.accountId) throw new AwsError('NoSuchEntity', `The role with name ${roleName} cannot be found.`, 404);
  const { role, details } = findRole(ctx, roleName);

  const actions = asList<string>(p.ActionNames);
  if (actions.length === 0) {
    throw AwsError.common('Validation', "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null");
  }
  const resources = asList<string>(p.ResourceArns);
  const policies = [
    ...rolePolicies(ctx, details),
    ...asList<string>(p.PolicyInputList).map(
      (text, i): SourcePolicy => ({ id: `PolicyInputList.${i + 1}`, type: 'none', text: parsePolicy(text, 'PolicyInputList') }),
    ),
  ];
  const resourcePolicy: SourcePolicy | undefined = p.ResourcePolicy
    ? { id: 'ResourcePolicy', type: 'resource', text: parsePolicy(String(p.ResourcePolicy), 'ResourcePolicy') }
    : undefined;
  const resourceOwner = p.ResourceOwner ? /^arn:aws:iam::(\d{12}):root$/.exec(String(p.ResourceOwner))?.[1] : undefined;
  const context = Object.fromEntries(
    asList<{ ContextKeyName: string; ContextKeyValues?: unknown }>(p.ContextEntries).map((e) => [
      e.ContextKeyName,
      asList<string>(e.ContextKeyValues).map(String),
    ]),
  );

  const statements = (matched: ReturnType<typeof evaluate>['matched']) =>
    matched.map((m) => ({ SourcePolicyId: m.policy.id, SourcePolicyType: m.policy.type, StartPosition: m.start, EndPosition: m.end }));
  const RANK = { allowed: 0, implicitDeny: 1, explicitDeny: 2 } as const;

  const EvaluationResults = actions.map((action) => {
    const perResource = (resources.length ? resources : ['*']).map((resource) => ({
      resource,
      result: evaluate(
        policies,
        { action, resource, principalArn: role.arn, principalAccount: role.accountId, context },
        {
          ...(resourcePolicy ? { resourcePolicy } : {}),
          ...(resourceOwner ? { resourceOwner } : {}),
        },
      ),
    }));
    // One result per action; the top level is the most restrictive decision across the resources.
    const worst = perResource.reduce((a, b) => (RANK[b.result.decision] > RANK[a.result.decision] ? b : a));
    const missing = [...new Set(perResource.flatMap((r) => r.result.missingContext))];
    return {
      EvalActionName: action,
      EvalResourceName: perResource.length === 1 ? perResource[0]!.resource : '*',
      EvalDecision: worst.result.decision,
      MatchedStatements: statements(worst.result.matched),
      MissingContextValues: missing,
      ...(resources.length
        ? {
            ResourceSpecificResults: perResource.map(({ resource, result }) => ({
              EvalResourceName: resource,
              EvalResourceDecision: result.decision,
              MatchedStatements: statements(result.matched),
              MissingContextValues: result.missingContext,
            })),
          }
        : {}),
    };
  });
  return { EvaluationResults, IsTruncated: false };
}

export const iamService: ServiceDefinition = {
  name: 'iam',
  protocol: 'query',
  version: '2010-05-08',
  xmlNamespace: 'https://iam.amazonaws.com/doc/2010-05-08/',
  actions: {
    GetRole: {
      resources: roleArn,
      handler: (p, ctx) => {
        const { role, details } = findRole(ctx, String(p.RoleName ?? ''));
        return {
          Role: {
            Path: details.path,
            RoleName: role.name,
            RoleId: role.roleId,
            Arn: role.arn,
            CreateDate: role.createDate,
            // IAM returns policy documents URL-encoded; callers must decodeURIComponent them.
            AssumeRolePolicyDocument: encodeURIComponent(details.trustPolicy),
            Description: details.description,
            MaxSessionDuration: role.maxSessionDuration,
            Tags: details.tags.length ? details.tags : undefined,
            RoleLastUsed: {},
          },
        };
      },
    },

    ListAttachedRolePolicies: {
      resources: roleArn,
      handler: (p, ctx) => {
        const { details } = findRole(ctx, String(p.RoleName ?? ''));
        const prefix = String(p.PathPrefix ?? '/');
        const AttachedPolicies = details.attached
          .map((arn) => managedPolicy(ctx, arn) ?? { arn, name: arn.slice(arn.lastIndexOf('/') + 1), path: '/' })
          .filter((policy) => policy.path.startsWith(prefix))
          .map((policy) => ({ PolicyName: policy.name, PolicyArn: policy.arn }));
        return { AttachedPolicies, IsTruncated: false };
      },
    },

    ListRolePolicies: {
      resources: roleArn,
      handler: (p, ctx) => ({ PolicyNames: [...findRole(ctx, String(p.RoleName ?? '')).details.inline.keys()], IsTruncated: false }),
    },

    GetRolePolicy: {
      resources: roleArn,
      handler: (p, ctx) => {
        const { role, details } = findRole(ctx, String(p.RoleName ?? ''));
        const text = details.inline.get(String(p.PolicyName ?? ''));
        if (text === undefined) throw new AwsError('NoSuchEntity', `The role policy with name ${p.PolicyName} cannot be found.`, 404);
        return { RoleName: role.name, PolicyName: p.PolicyName, PolicyDocument: encodeURIComponent(text) };
      },
    },

    SimulatePrincipalPolicy: { resources: (p) => [String(p.PolicySourceArn ?? '')], handler: simulatePrincipalPolicy },
  },
};
