/**
 * AWS STS (query protocol, Version 2011-06-15). AssumeRole issues real-looking session credentials
 * and registers them, so requests signed with them are attributed to the role session (with its
 * session name, tags and source identity), as CloudTrail would show.
 */
import { AwsError, asList, type AuthorizeOptions, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { roleDocuments } from './iam';

const PATTERN = '[\\w+=,.@-]*';
const SESSION_NAME = /^[\w+=,.@-]*$/;

/** AWS's wording for model constraint violations: "N validation errors detected: a; b". */
function validationError(problems: string[]): AwsError {
  const n = problems.length;
  return AwsError.common('Validation', `${n} validation error${n > 1 ? 's' : ''} detected: ${problems.join('; ')}`);
}

function checkString(problems: string[], member: string, value: string, min: number, max: number, pattern?: RegExp) {
  if (pattern && !pattern.test(value)) {
    problems.push(`Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${PATTERN}`);
  }
  if (value.length < min)
    problems.push(`Value '${value}' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  if (value.length > max) problems.push(`Value '${value}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
}

/**
 * How IAM judges an AssumeRole request: against the role's trust policy (a resource policy, owned
 * by the role's account, so a cross-account caller needs both sides), with the request's condition
 * keys (source identity, session name, external id, the session tags and their keys).
 */
function trustOf(p: Params, ctx: CallContext): AuthorizeOptions | undefined {
  const roleArn = String(p.RoleArn ?? '');
  const documents = roleDocuments(ctx.state, roleArn);
  if (!documents) return undefined;
  const tags = asList<{ Key: string; Value: string }>(p.Tags);
  const context: Record<string, string[]> = { 'sts:RoleSessionName': [String(p.RoleSessionName ?? '')] };
  if (p.SourceIdentity !== undefined) context['sts:SourceIdentity'] = [String(p.SourceIdentity)];
  if (p.ExternalId !== undefined) context['sts:ExternalId'] = [String(p.ExternalId)];
  if (tags.length) context['aws:TagKeys'] = tags.map((t) => String(t.Key));
  for (const tag of tags) context[`aws:RequestTag/${tag.Key}`] = [String(tag.Value ?? '')];
  return { resourcePolicy: documents.trust, resourceOwner: /^arn:aws:iam::(\d{12}):/.exec(roleArn)?.[1] ?? ctx.accountId, context };
}

function assumeRole(p: Record<string, any>, ctx: CallContext) {
  const roleArn = String(p.RoleArn ?? '');
  const sessionName = String(p.RoleSessionName ?? '');
  const duration = p.DurationSeconds === undefined ? 3600 : Number(p.DurationSeconds);
  const tags = asList<{ Key: string; Value: string }>(p.Tags);
  const transitive = asList<string>(p.TransitiveTagKeys);

  const problems: string[] = [];
  checkString(problems, 'roleSessionName', sessionName, 2, 64, SESSION_NAME);
  if (roleArn.length < 20) problems.push(`Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20`);
  if (!Number.isInteger(duration) || duration < 900)
    problems.push(`Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
  if (duration > 43200)
    problems.push(`Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200`);
  if (p.SourceIdentity !== undefined) checkString(problems, 'sourceIdentity', String(p.SourceIdentity), 2, 64, SESSION_NAME);
  if (tags.length > 50) problems.push(`Value '[…]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50`);
  tags.forEach((t, i) => {
    checkString(problems, `tags.${i + 1}.member.key`, String(t.Key ?? ''), 1, 128);
    checkString(problems, `tags.${i + 1}.member.value`, String(t.Value ?? ''), 0, 256);
  });
  if (problems.length) throw validationError(problems);

  // What the request asks beyond AssumeRole is authorised too, by the caller's policies and the
  // role's trust policy alike: session tags (sts:TagSession), a source identity (sts:SetSourceIdentity).
  const trust = trustOf(p, ctx);
  if (trust && tags.length) ctx.authorize('sts:TagSession', roleArn, trust);
  if (trust && p.SourceIdentity !== undefined) ctx.authorize('sts:SetSourceIdentity', roleArn, trust);

  const caller = ctx.identity;
  const role = ctx.state.findRole(roleArn);
  // Like AWS, a role that does not exist is indistinguishable from one you may not assume.
  if (!role) {
    throw AwsError.common('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  }
  // The bot's own credentials are a role session too (Lambda's execution role), so this applies to it.
  if (caller.type === 'AssumedRole' && duration > 3600) {
    throw AwsError.common('Validation', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }
  if (duration > role.maxSessionDuration) {
    throw AwsError.common('Validation', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }

  // Role chaining: transitive tags and the source identity of the calling session carry over
  // and cannot be replaced by the new request.
  const inherited = Object.fromEntries(
    (caller.transitiveTagKeys ?? []).map((k) => [k, caller.sessionTags?.[k]] as const).filter(([, v]) => v !== undefined),
  ) as Record<string, string>;
  const sessionTags = { ...Object.fromEntries(tags.map((t) => [t.Key, String(t.Value ?? '')])), ...inherited };
  const transitiveTagKeys = [...new Set([...transitive, ...Object.keys(inherited)])];
  const sourceIdentity = caller.sourceIdentity ?? (p.SourceIdentity as string | undefined);

  const credentials = ctx.state.issueCredentials(role, sessionName, {
    assumedBy: caller.arn,
    issuedAt: ctx.clock.date(),
    expiration: ctx.clock.date(duration * 1000),
    ...(Object.keys(sessionTags).length ? { sessionTags } : {}),
    ...(transitiveTagKeys.length ? { transitiveTagKeys } : {}),
    ...(sourceIdentity ? { sourceIdentity } : {}),
  });
  const { identity } = credentials;
  return {
    Credentials: {
      AccessKeyId: credentials.accessKeyId,
      SecretAccessKey: credentials.secretAccessKey,
      SessionToken: credentials.sessionToken,
      Expiration: identity.expiration,
    },
    AssumedRoleUser: { AssumedRoleId: identity.principalId, Arn: identity.arn },
    // Session tags count against the packed policy size (a percentage of the limit).
    ...(tags.length ? { PackedPolicySize: Math.min(100, 2 + tags.length * 2) } : {}),
    ...(sourceIdentity ? { SourceIdentity: sourceIdentity } : {}),
  };
}

export const stsService: ServiceDefinition = {
  name: 'sts',
  protocol: 'query',
  version: '2011-06-15',
  xmlNamespace: 'https://sts.amazonaws.com/doc/2011-06-15/',
  errors: { ExpiredToken: ['ExpiredTokenException', 400] },
  actions: {
    GetCallerIdentity: (_p, ctx) => ({ UserId: ctx.identity.principalId, Account: ctx.identity.accountId, Arn: ctx.identity.arn }),
    AssumeRole: { resources: (p) => [String(p.RoleArn ?? '')], authorization: (p, ctx) => trustOf(p, ctx), handler: assumeRole },
  },
};
