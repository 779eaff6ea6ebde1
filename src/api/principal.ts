/**
 * Who called the signed API: the IAM principal API Gateway's IAM authorizer verified (payload 2.0,
 * `requestContext.authorizer.iam`). A role session's ARN
 * (`arn:aws:sts::111122223333:assumed-role/ci-deployer/build-42`) names a session, which changes
 * with every build; grants are about the role, so the session maps to the role's IAM ARN
 * (`arn:aws:iam::111122223333:role/ci-deployer`; the role's path is not in a session ARN, so a
 * pattern for a role with a path must use `*`). The session name is kept for the thread and the audit.
 */

export interface Principal {
  /** The ARN grants are matched against: an IAM user or role ARN (a session mapped to its role). */
  arn: string;
  /** As API Gateway gave it (the session ARN for a role session). */
  callerArn: string;
  accountId: string;
  /** The role session name, for an assumed role. */
  session?: string;
}

/** The synthetic "user id" under which a principal's requests travel, are authorised and audited. */
export const PRINCIPAL_USER_PREFIX = 'iam:';
export const principalUserId = (principal: Pick<Principal, 'arn'>): string => `${PRINCIPAL_USER_PREFIX}${principal.arn}`;
export const isPrincipalUserId = (userId: string): boolean => userId.startsWith(PRINCIPAL_USER_PREFIX);
export const principalArnOf = (userId: string): string | undefined => (isPrincipalUserId(userId) ? userId.slice(PRINCIPAL_USER_PREFIX.length) : undefined);

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;
const IAM_ENTITY = /^arn:(aws[a-z-]*):iam::(\d{12}):(user|role)\/([\w+=,.@/-]+)$/;

/** Undefined for anything that is not a principal the API serves (federated users, root, garbage). */
export function principalFromArn(callerArn: string): Principal | undefined {
  const session = ASSUMED_ROLE.exec(callerArn);
  if (session) {
    const [, partition, accountId, role, name] = session;
    return { arn: `arn:${partition}:iam::${accountId}:role/${role}`, callerArn, accountId: accountId!, session: name! };
  }
  const entity = IAM_ENTITY.exec(callerArn);
  if (entity && !entity[4]!.endsWith('/') && !entity[4]!.includes('//')) return { arn: callerArn, callerArn, accountId: entity[2]! };
  // Anything else (the account's root user, a federated user, a service) is no caller the bot serves.
  return undefined;
}

/** The IAM authorizer's part of a payload 2.0 request context (API Gateway developer guide). */
export interface IamAuthorizerContext {
  accessKey?: string;
  accountId?: string;
  callerId?: string;
  cognitoIdentity?: unknown;
  principalOrgId?: string | null;
  userArn?: string;
  userId?: string;
}

/**
 * An IAM principal ARN pattern of an allowlist entry: a user or role ARN in which `*` matches any
 * run of characters within one ARN (as in IAM's ArnLike). At least the account must be given.
 */
const PATTERN = /^arn:aws[a-z-]*:iam::(\d{12}):(user|role)\/[\w+=,.@/*-]+$/;
export const isPrincipalPattern = (pattern: string): boolean => PATTERN.test(pattern);

export function matchesPattern(pattern: string, arn: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(arn);
}

/** How a principal is named in Slack: never a mention, and escaped by the caller of this as code. */
export const principalLabel = (p: Pick<Principal, 'arn' | 'session'>): string => (p.session ? `${p.arn} (session ${p.session})` : p.arn);
