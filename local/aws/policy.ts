/**
 * A small IAM policy evaluator: enough of AWS's evaluation logic to answer "may role R do action A
 * on resource X" the way IAM SimulatePrincipalPolicy (and the services themselves) would, for the
 * policies the emulator seeds.
 *
 * Supported:
 *  - Effect Allow/Deny; explicit Deny wins, nothing matching is an implicit deny;
 *  - Action / NotAction with `*` and `?` wildcards (case-insensitive, as IAM matches actions);
 *  - Resource / NotResource with wildcards (case-sensitive);
 *  - Principal in resource policies: `*`, `{AWS: '*'}`, account ids / `…:root`, role ARNs, and
 *    `{Service: …}` for a request a service principal makes (EventBridge sending to a queue);
 *  - Condition operators String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals/Like, Bool,
 *    Null, the `…IfExists` suffix and the `ForAnyValue:` / `ForAllValues:` set prefixes.
 *    Condition keys come only from the caller (SimulatePrincipalPolicy's ContextEntries); a key a
 *    statement needs but nobody supplied makes the statement not apply and is reported as missing.
 *  - Resource policies: same-account resource policies grant on their own when they name the
 *    principal; naming only the account delegates to identity policies. Cross-account access needs
 *    both sides. KMS key policies and role trust policies are authoritative, as KMS and STS evaluate
 *    them: an identity policy counts only when the key or trust policy allows the account (the
 *    `…:root` statement); naming the principal allows on its own.
 *
 * Not supported (a statement using them never applies): Numeric*, Date*, IpAddress, BinaryEquals,
 * policy variables (`${aws:username}`), NotPrincipal. Permissions boundaries, session policies and
 * SCPs are not modelled.
 */

export type Decision = 'allowed' | 'explicitDeny' | 'implicitDeny';
type OneOrMany<T> = T | T[];

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | Record<string, OneOrMany<string>>;
  Action?: OneOrMany<string>;
  NotAction?: OneOrMany<string>;
  Resource?: OneOrMany<string>;
  NotResource?: OneOrMany<string>;
  Condition?: Record<string, Record<string, OneOrMany<string | boolean>>>;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: OneOrMany<PolicyStatement>;
}

/** A policy as IAM stores it: the document text (positions in results refer to it) and its origin. */
export interface SourcePolicy {
  /** Inline policy name, managed policy name, `ResourcePolicy` or `PolicyInputList.1`. */
  id: string;
  /** As IAM's Statement.SourcePolicyType reports it. */
  type: 'role' | 'aws-managed' | 'user-managed' | 'resource' | 'none';
  text: string;
}

export interface Position {
  Line: number;
  Column: number;
}
export interface MatchedStatement {
  policy: SourcePolicy;
  start: Position;
  end: Position;
}

export interface EvaluationRequest {
  action: string;
  resource: string;
  /** Who acts (a role ARN) and in which account; needed to match resource-policy principals. */
  principalArn: string;
  principalAccount: string;
  /** A service principal acting (`events.amazonaws.com`): matched by a resource policy's `Principal.Service` only. */
  principalService?: string;
  /** Condition keys and values; key names are case-insensitive. */
  context?: Record<string, string[]>;
}

export interface EvaluationOptions {
  /** The resource's own policy (bucket, repository, key policy…). */
  resourcePolicy?: SourcePolicy;
  /** Account owning the resource (default: the principal's). */
  resourceOwner?: string;
}

export interface Evaluation {
  decision: Decision;
  /** Statements that decided: the denies for explicitDeny, the allows for allowed. */
  matched: MatchedStatement[];
  /** Condition keys required by otherwise matching statements but absent from the context. */
  missingContext: string[];
}

/** Pretty-printed JSON, the form the seed stores documents in. */
export const policyText = (doc: PolicyDocument): string => JSON.stringify(doc, null, 2);

const asList = <T>(v: OneOrMany<T> | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function glob(pattern: string, ignoreCase = false): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
}
const matchesAny = (patterns: string[], value: string, ignoreCase = false) => patterns.some((p) => glob(p, ignoreCase).test(value));

// Each operator: does the request's value set satisfy the policy's values? (any-value semantics)
const OPERATORS: Record<string, (actual: string[], expected: string[]) => boolean> = {
  StringEquals: (a, e) => a.some((v) => e.includes(v)),
  StringNotEquals: (a, e) => !a.some((v) => e.includes(v)),
  StringEqualsIgnoreCase: (a, e) => a.some((v) => e.some((x) => x.toLowerCase() === v.toLowerCase())),
  StringNotEqualsIgnoreCase: (a, e) => !a.some((v) => e.some((x) => x.toLowerCase() === v.toLowerCase())),
  StringLike: (a, e) => a.some((v) => matchesAny(e, v)),
  StringNotLike: (a, e) => !a.some((v) => matchesAny(e, v)),
  // IAM treats ArnEquals and ArnLike alike: both accept wildcards.
  ArnEquals: (a, e) => a.some((v) => matchesAny(e, v)),
  ArnLike: (a, e) => a.some((v) => matchesAny(e, v)),
  ArnNotEquals: (a, e) => !a.some((v) => matchesAny(e, v)),
  ArnNotLike: (a, e) => !a.some((v) => matchesAny(e, v)),
  Bool: (a, e) => a.some((v) => e.some((x) => x.toLowerCase() === v.toLowerCase())),
};

/** True when every condition holds; keys the context lacks are added to `missing`. */
function conditionsHold(condition: PolicyStatement['Condition'], context: Record<string, string[]>, missing: Set<string>): boolean {
  let holds = true;
  for (const [rawOperator, block] of Object.entries(condition ?? {})) {
    const [, set, base = ''] = /^(?:(ForAnyValue|ForAllValues):)?(.*)$/.exec(rawOperator)!;
    const ifExists = base.endsWith('IfExists');
    const operator = ifExists ? base.slice(0, -'IfExists'.length) : base;
    for (const [key, value] of Object.entries(block)) {
      const expected = asList(value).map(String);
      const actual = context[key.toLowerCase()];
      if (operator === 'Null') {
        holds &&= expected.includes(String(actual === undefined));
        continue;
      }
      const test = OPERATORS[operator];
      if (!test) {
        holds = false; // unsupported operator: the statement never applies
        continue;
      }
      if (actual === undefined) {
        if (ifExists || set === 'ForAllValues') continue; // both are satisfied by an absent key
        missing.add(key);
        holds = false;
        continue;
      }
      // ForAllValues: every requested value must be allowed; otherwise any one suffices.
      holds &&= set === 'ForAllValues' ? actual.every((v) => test([v], expected)) : test(actual, expected);
    }
  }
  return holds;
}

type PrincipalMatch = 'direct' | 'account' | undefined;
function principalMatch(principal: PolicyStatement['Principal'], request: EvaluationRequest): PrincipalMatch {
  if (principal === undefined) return undefined;
  if (principal === '*') return 'direct';
  if (request.principalService) return asList(principal.Service).includes(request.principalService) ? 'direct' : undefined;
  let match: PrincipalMatch;
  for (const p of asList(principal.AWS)) {
    if (p === '*' || p === request.principalArn) return 'direct';
    if (p === request.principalAccount || p === `arn:aws:iam::${request.principalAccount}:root`) match = 'account';
  }
  return match;
}

interface Hit {
  statement: PolicyStatement;
  index: number;
  policy: SourcePolicy;
  principal?: PrincipalMatch;
}

function matchingStatements(policy: SourcePolicy, request: EvaluationRequest, isResourcePolicy: boolean, missing: Set<string>): Hit[] {
  const doc = JSON.parse(policy.text) as PolicyDocument;
  const context = Object.fromEntries(Object.entries(request.context ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const hits: Hit[] = [];
  asList(doc.Statement).forEach((statement, index) => {
    const actionOk = statement.NotAction
      ? !matchesAny(asList(statement.NotAction), request.action, true)
      : matchesAny(asList(statement.Action), request.action, true);
    const resourceOk = statement.NotResource
      ? !matchesAny(asList(statement.NotResource), request.resource)
      : // Resource policies may omit Resource: the policy's own resource is implied.
        (isResourcePolicy && statement.Resource === undefined) || matchesAny(asList(statement.Resource), request.resource);
    const principal = isResourcePolicy ? principalMatch(statement.Principal, request) : undefined;
    if (!actionOk || !resourceOk || (isResourcePolicy && !principal)) return;
    if (!conditionsHold(statement.Condition, context, missing)) return;
    hits.push({ statement, index, policy, ...(principal ? { principal } : {}) });
  });
  return hits;
}

/** Evaluates identity policies (plus an optional resource policy) for one action on one resource. */
export function evaluate(identityPolicies: SourcePolicy[], request: EvaluationRequest, options: EvaluationOptions = {}): Evaluation {
  const missing = new Set<string>();
  const identity = identityPolicies.flatMap((p) => matchingStatements(p, request, false, missing));
  const resource = options.resourcePolicy ? matchingStatements(options.resourcePolicy, request, true, missing) : [];
  const missingContext = [...missing];

  const denies = [...identity, ...resource].filter((h) => h.statement.Effect === 'Deny');
  if (denies.length) return { decision: 'explicitDeny', matched: denies.map(position), missingContext };

  const identityAllows = identity.filter((h) => h.statement.Effect === 'Allow');
  const direct = resource.filter((h) => h.statement.Effect === 'Allow' && h.principal === 'direct');
  const account = resource.filter((h) => h.statement.Effect === 'Allow' && h.principal === 'account');
  const crossAccount = options.resourceOwner !== undefined && options.resourceOwner !== request.principalAccount;
  // KMS key policies and role trust policies are authoritative: they must allow, on their own when
  // they name the principal, or by naming the account and an identity policy allowing too.
  const action = request.action.toLowerCase();
  const keyPolicy = !!options.resourcePolicy && (action.startsWith('kms:') || ['sts:assumerole', 'sts:tagsession', 'sts:setsourceidentity'].includes(action));

  let allowedBy: Hit[] = [];
  if (crossAccount) {
    if (identityAllows.length && (direct.length || account.length)) allowedBy = [...identityAllows, ...direct, ...account];
  } else if (keyPolicy) {
    if (direct.length) allowedBy = direct;
    else if (identityAllows.length && account.length) allowedBy = [...account, ...identityAllows];
  } else if (identityAllows.length || direct.length) {
    allowedBy = [...identityAllows, ...direct];
  }
  return allowedBy.length
    ? { decision: 'allowed', matched: allowedBy.map(position), missingContext }
    : { decision: 'implicitDeny', matched: [], missingContext };
}

function position(hit: Hit): MatchedStatement {
  const span = statementSpans(hit.policy.text)[hit.index];
  const fallback = { Line: 1, Column: 1 };
  return { policy: hit.policy, start: span?.start ?? fallback, end: span?.end ?? fallback };
}

/** Where each statement object sits in the document text (1-based line and column), as IAM reports it. */
export function statementSpans(text: string): Array<{ start: Position; end: Position }> {
  const key = /"Statement"\s*:\s*/.exec(text);
  if (!key) return [];
  let i = key.index + key[0].length;
  const spans: Array<{ start: Position; end: Position }> = [];
  const single = text[i] === '{';
  if (!single) i++; // past '['
  while (i < text.length) {
    while (/[\s,]/.test(text[i] ?? '')) i++;
    if (text[i] !== '{') break;
    const end = closingBrace(text, i);
    if (end < 0) break;
    spans.push({ start: toPosition(text, i), end: toPosition(text, end + 1) });
    if (single) break;
    i = end + 1;
  }
  return spans;
}

function closingBrace(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i;
  }
  return -1;
}

function toPosition(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { Line: before.split('\n').length, Column: offset - lineStart + 1 };
}
