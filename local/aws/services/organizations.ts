/**
 * AWS Organizations (JSON 1.1, target `AWSOrganizationsV20161128`, a global service signed for
 * us-east-1): what fleet discovery reads. One organization per emulator, kept beside the state,
 * with its management account, its root, organizational units, member accounts and their tags.
 *
 * As AWS answers: an account outside the organization gets AWSOrganizationsNotInUseException; a
 * member that is neither the management account nor a delegated administrator gets
 * AccessDeniedException; list calls page by at most 20 (MaxResults 1–20, InvalidInputException
 * beyond); IAM is evaluated on the documented resources (`*` for ListAccounts and
 * DescribeOrganization, the root or OU for ListAccountsForParent, the account for ListTagsForResource).
 *
 * An account's lifecycle is its `State` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED,
 * PENDING_ACTIVATION). The SDK's model says `Status` was retired on September 9, 2026: the
 * emulator, like AWS since, returns `State` only.
 */
import { AwsError, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { hexId, type EmulatorState } from '../state';

export interface OrganizationAccount {
  id: string;
  name: string;
  email: string;
  /** The SDK's AccountState. */
  state: AccountState;
  joinedMethod: 'INVITED' | 'CREATED';
  joinedTimestamp: Date;
  /** The root or OU the account sits in. */
  parentId: string;
  tags: Record<string, string>;
}

export type AccountState = 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE' | 'CLOSED' | 'PENDING_ACTIVATION';

export interface OrganizationalUnit {
  id: string;
  name: string;
  parentId: string;
}

export interface Organization {
  id: string;
  managementAccountId: string;
  rootId: string;
  units: Map<string, OrganizationalUnit>;
  /** In the order they joined (ListAccounts' order). */
  accounts: Map<string, OrganizationAccount>;
  /** Member accounts registered as delegated administrators (they may read the organization too). */
  delegatedAdministrators: Set<string>;
}

const organizations = new WeakMap<EmulatorState, Organization>();

/** The emulator's organization, if one was created. */
export const organizationOf = (state: EmulatorState): Organization | undefined => organizations.get(state);

/** Creates the organization with `managementAccountId` as its management account (and first member). */
export function createOrganization(state: EmulatorState, managementAccountId: string): Organization {
  const existing = organizations.get(state);
  if (existing) return existing;
  const org: Organization = {
    id: `o-${hexId(`org/${managementAccountId}`, 10)}`,
    managementAccountId,
    rootId: `r-${hexId(`root/${managementAccountId}`, 4)}`,
    units: new Map(),
    accounts: new Map(),
    delegatedAdministrators: new Set(),
  };
  organizations.set(state, org);
  putOrganizationAccount(state, { id: managementAccountId, name: 'management' });
  return org;
}

function requireOrganization(state: EmulatorState): Organization {
  const org = organizations.get(state);
  if (!org) throw new Error('create the organization first (createOrganization)');
  return org;
}

/** Adds an OU under the root (or another OU) and returns it; ids follow AWS's `ou-<root>-<8+>` form. */
export function putOrganizationalUnit(state: EmulatorState, name: string, parentId?: string): OrganizationalUnit {
  const org = requireOrganization(state);
  const parent = parentId ?? org.rootId;
  const existing = [...org.units.values()].find((u) => u.name === name && u.parentId === parent);
  if (existing) return existing;
  const unit = { id: `ou-${org.rootId.slice(2)}-${hexId(`ou/${parent}/${name}`, 8)}`, name, parentId: parent };
  org.units.set(unit.id, unit);
  return unit;
}

/** Adds (or replaces) a member account. */
export function putOrganizationAccount(
  state: EmulatorState,
  spec: { id: string; name: string; email?: string; parentId?: string; tags?: Record<string, string>; state?: AccountState },
): OrganizationAccount {
  const org = requireOrganization(state);
  const account: OrganizationAccount = {
    id: spec.id,
    name: spec.name,
    email: spec.email ?? `aws+${spec.id}@example.com`,
    state: spec.state ?? 'ACTIVE',
    joinedMethod: spec.id === org.managementAccountId ? 'INVITED' : 'CREATED',
    joinedTimestamp: state.clock.date(-300 * 86_400_000),
    parentId: spec.parentId ?? org.rootId,
    tags: { ...spec.tags },
  };
  org.accounts.set(account.id, account);
  return account;
}

const orgError = (code: string, message: string, fields: Record<string, unknown> = {}) => new AwsError(code, message, 400, { Message: message, ...fields });

const invalidInput = (reason: string, message: string) => orgError('InvalidInputException', message, { Reason: reason });

/** The organization as the caller may read it: not in one, or a member without the right, fails as AWS fails. */
function readableOrganization(ctx: CallContext): Organization {
  const org = organizations.get(ctx.state);
  if (!org?.accounts.has(ctx.accountId)) {
    throw orgError('AWSOrganizationsNotInUseException', 'Your account is not a member of an organization.');
  }
  if (ctx.accountId !== org.managementAccountId && !org.delegatedAdministrators.has(ctx.accountId)) {
    throw orgError('AccessDeniedException', "You don't have permissions to access this resource.");
  }
  return org;
}

const PAGE_MAX = 20;
const encodeToken = (offset: number) => Buffer.from(JSON.stringify({ o: offset })).toString('base64');

function paginate<T>(items: T[], p: Params): { page: T[]; NextToken?: string } {
  const max = p.MaxResults ?? PAGE_MAX;
  if (!Number.isInteger(max) || max < 1) throw invalidInput('MIN_VALUE_EXCEEDED', 'You provided a value that is less than the minimum allowed value.');
  if (max > PAGE_MAX) throw invalidInput('MAX_VALUE_EXCEEDED', 'You provided a value that exceeds the maximum allowed value.');
  let offset = 0;
  if (p.NextToken !== undefined) {
    try {
      offset = Number((JSON.parse(Buffer.from(String(p.NextToken), 'base64').toString('utf8')) as { o?: unknown }).o);
    } catch {
      offset = Number.NaN;
    }
    if (!Number.isInteger(offset) || offset < 0) throw invalidInput('INVALID_PAGINATION_TOKEN', 'You specified an invalid value for nextToken.');
  }
  const page = items.slice(offset, offset + max);
  return { page, ...(offset + max < items.length ? { NextToken: encodeToken(offset + max) } : {}) };
}

const accountArn = (org: Organization, id: string) => `arn:aws:organizations::${org.managementAccountId}:account/${org.id}/${id}`;
const parentArn = (org: Organization, id: string) =>
  id.startsWith('r-')
    ? `arn:aws:organizations::${org.managementAccountId}:root/${org.id}/${id}`
    : `arn:aws:organizations::${org.managementAccountId}:ou/${org.id}/${id}`;

const describeAccount = (org: Organization, a: OrganizationAccount) => ({
  Id: a.id,
  Arn: accountArn(org, a.id),
  Email: a.email,
  Name: a.name,
  State: a.state,
  JoinedMethod: a.joinedMethod,
  JoinedTimestamp: a.joinedTimestamp,
});

const PARENT_ID = /^(r-[0-9a-z]{4,32})|(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/;
const ACCOUNT_ID = /^\d{12}$/;

/** The resource ARN IAM judges an org-scoped request against (`*` when the organization cannot be read; the handler then fails). */
function orgResource(ctx: CallContext, id: string): string {
  const org = organizations.get(ctx.state);
  if (!org) return '*';
  return ACCOUNT_ID.test(id) ? accountArn(org, id) : parentArn(org, id);
}

export const organizationsService: ServiceDefinition = {
  name: 'organizations',
  protocol: 'json',
  target: 'AWSOrganizationsV20161128',
  errors: { Throttling: ['TooManyRequestsException', 400], AccessDenied: ['AccessDeniedException', 400] },
  actions: {
    DescribeOrganization: (_p, ctx) => {
      const org = organizations.get(ctx.state);
      if (!org?.accounts.has(ctx.accountId)) throw orgError('AWSOrganizationsNotInUseException', 'Your account is not a member of an organization.');
      return {
        Organization: {
          Id: org.id,
          Arn: `arn:aws:organizations::${org.managementAccountId}:organization/${org.id}`,
          FeatureSet: 'ALL',
          MasterAccountArn: accountArn(org, org.managementAccountId),
          MasterAccountId: org.managementAccountId,
          MasterAccountEmail: org.accounts.get(org.managementAccountId)!.email,
          AvailablePolicyTypes: [],
        },
      };
    },

    ListAccounts: (p, ctx) => {
      const org = readableOrganization(ctx);
      const { page, NextToken } = paginate([...org.accounts.values()], p);
      return { Accounts: page.map((a) => describeAccount(org, a)), ...(NextToken ? { NextToken } : {}) };
    },

    ListAccountsForParent: {
      resources: (p, ctx) => [orgResource(ctx, String(p.ParentId ?? ''))],
      handler: (p, ctx) => {
        const parentId = String(p.ParentId ?? '');
        if (!PARENT_ID.test(parentId))
          throw invalidInput('INVALID_PARTY_TYPE_TARGET', 'You specified the wrong type of entity (account, organization, or email) as a target.');
        const org = readableOrganization(ctx);
        if (parentId !== org.rootId && !org.units.has(parentId))
          throw orgError('ParentNotFoundException', "We can't find a root or OU with the ParentId that you specified.");
        const { page, NextToken } = paginate(
          [...org.accounts.values()].filter((a) => a.parentId === parentId),
          p,
        );
        return { Accounts: page.map((a) => describeAccount(org, a)), ...(NextToken ? { NextToken } : {}) };
      },
    },

    ListOrganizationalUnitsForParent: {
      resources: (p, ctx) => [orgResource(ctx, String(p.ParentId ?? ''))],
      handler: (p, ctx) => {
        const parentId = String(p.ParentId ?? '');
        const org = readableOrganization(ctx);
        if (parentId !== org.rootId && !org.units.has(parentId))
          throw orgError('ParentNotFoundException', "We can't find a root or OU with the ParentId that you specified.");
        const { page, NextToken } = paginate(
          [...org.units.values()].filter((u) => u.parentId === parentId),
          p,
        );
        return {
          OrganizationalUnits: page.map((u) => ({ Id: u.id, Arn: parentArn(org, u.id), Name: u.name })),
          ...(NextToken ? { NextToken } : {}),
        };
      },
    },

    ListTagsForResource: {
      resources: (p, ctx) => [orgResource(ctx, String(p.ResourceId ?? ''))],
      handler: (p, ctx) => {
        const id = String(p.ResourceId ?? '');
        const org = readableOrganization(ctx);
        // A root and an OU are taggable targets too; the emulator keeps no tags on them.
        const tags = ACCOUNT_ID.test(id) ? org.accounts.get(id)?.tags : id === org.rootId || org.units.has(id) ? {} : undefined;
        // The message as the SDK's model documents TargetNotFoundException.
        if (!tags) throw orgError('TargetNotFoundException', "We can't find a root, OU, account, or policy with the TargetId that you specified.");
        // Tags are few (at most 50 per resource): one page, as AWS returns them.
        return { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
      },
    },
  },
};
