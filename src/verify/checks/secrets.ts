import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import type { ContextEntry } from '@aws-sdk/client-iam';
import type { KeyMetadata } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, SecretsManagerClient, type DescribeSecretResponse } from '@aws-sdk/client-secrets-manager';
import { DescribeParametersCommand, SSMClient, type ParameterMetadata } from '@aws-sdk/client-ssm';
import { roleName } from '../../aws/arn';
import type { VerifyContext } from '../context';
import { checkPermission, fixFor } from '../permissions';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, unverified } from '../types';
import { mark } from '../text';
import { describeKey, keyPolicy } from './lookups';

/**
 * The secrets family: every secret a container gets at start (`secrets`, the log driver's
 * `secretOptions`, `repositoryCredentials`) exists, the execution role may fetch it, and, when a
 * customer managed KMS key encrypts it, may decrypt it, with the key policy taken into account.
 *
 * Values are never read: existence comes from metadata calls (SSM DescribeParameters, Secrets
 * Manager DescribeSecret), permissions from IAM's policy simulator as the execution role.
 *
 * Per reference, up to three checks: `secret:<container>:<NAME>` (exists),
 * `…:access` (the execution role may fetch it) and, discovered once the key is known, `…:kms`.
 * Lookups are shared: one DescribeParameters per region for all parameters of the task, one
 * DescribeSecret per secret, one DescribeKey and GetKeyPolicy per key.
 */

type Source = 'secrets' | 'log' | 'registry';

/** Where a container gets a secret from, as written in the task definition. */
interface Reference {
  container: string;
  /** The environment variable or log option; undefined for registry credentials. */
  name?: string;
  source: Source;
  valueFrom: string;
}

interface SsmRef {
  store: 'ssm';
  region: string;
  /** Set for an ARN: a parameter of another account cannot be looked up from this one. */
  account?: string;
  partition: string;
  /** Candidate names: `arn:…:parameter/plain` may name `plain` or `/plain`. */
  names: string[];
  /** `:3` (version) or `:prod` (label) after the name. */
  selector?: string;
}

interface SecretRef {
  store: 'secretsmanager';
  region: string;
  account?: string;
  partition: string;
  /** What DescribeSecret is asked for: the ARN as written (without ECS's suffixes), or a name. */
  secretId: string;
  /** The secret's name, without the six-character ARN suffix. */
  name: string;
  /** A full ARN (with the `-AbCdEf` suffix), which breaks when the secret is deleted and recreated. */
  fullArn: boolean;
  jsonKey?: string;
  versionStage?: string;
  versionId?: string;
}

type Parsed = SsmRef | SecretRef;

interface Resolved {
  parsed: Parsed;
  /** The ARN IAM evaluates: the real one when found, else the best guess from the reference. */
  arn: string;
  parameter?: ParameterMetadata;
  secret?: DescribeSecretResponse;
  /** For a missing full ARN: the secret that has the name now (deleted and recreated). */
  recreated?: DescribeSecretResponse;
  /** Set when the store cannot be asked from this account (a parameter shared by another account). */
  foreign?: boolean;
}

const ROLE_LABEL = 'execution role';
const isAwsManagedAlias = (keyRef: string) => /(^|:)alias\/aws\//.test(keyRef);
const SECRET_SUFFIX = /-[A-Za-z0-9]{6}$/;

export const secretChecks: Planner = ({ ctx, taskDefinition }) => {
  const partition = taskDefinition.executionRoleArn?.split(':')[1] || taskDefinition.taskDefinitionArn?.split(':')[1] || 'aws';
  const references = (taskDefinition.containerDefinitions ?? []).flatMap(referencesOf);
  if (references.length === 0) {
    return [{ id: 'secrets', family: 'secrets', title: 'Secrets', group: ['TaskDefinition'], run: async () => skip('no container references a secret') }];
  }
  const planned = references.map((ref) => ({ ref, parsed: parse(ref, ctx.region, partition) }));
  // Every parameter of the task, by region, so one DescribeParameters answers them all.
  const parameterNames = new Map<string, Array<{ name: string; account?: string }>>();
  for (const { parsed } of planned) {
    if (parsed?.store !== 'ssm') continue;
    const list = parameterNames.get(parsed.region) ?? [];
    list.push(...parsed.names.map((name) => ({ name, ...(parsed.account ? { account: parsed.account } : {}) })));
    parameterNames.set(parsed.region, list);
  }
  const lookups: Lookups = { parameters: (ctx, region) => describeParameters(ctx, region, parameterNames.get(region) ?? []) };
  return planned.flatMap(({ ref, parsed }) => specsFor(taskDefinition, ref, parsed, lookups));
};

function referencesOf(container: ContainerDefinition): Reference[] {
  const name = container.name ?? '?';
  const refs: Reference[] = [];
  for (const s of container.secrets ?? []) if (s.valueFrom) refs.push({ container: name, name: s.name ?? '?', source: 'secrets', valueFrom: s.valueFrom });
  for (const s of container.logConfiguration?.secretOptions ?? [])
    if (s.valueFrom) refs.push({ container: name, name: s.name ?? '?', source: 'log', valueFrom: s.valueFrom });
  const registry = container.repositoryCredentials?.credentialsParameter;
  if (registry) refs.push({ container: name, source: 'registry', valueFrom: registry });
  return refs;
}

/**
 * What ECS accepts: a parameter name (same region) or parameter ARN; a Secrets Manager ARN, full or
 * partial, optionally followed by `:<json-key>:<version-stage>:<version-id>`. Registry credentials
 * are always a Secrets Manager secret, by ARN or (same region) by name.
 */
export function parse(ref: Pick<Reference, 'source' | 'valueFrom'>, region: string, partition: string): Parsed | undefined {
  const { valueFrom } = ref;
  if (!valueFrom.startsWith('arn:')) {
    if (ref.source === 'registry') return { store: 'secretsmanager', region, partition, secretId: valueFrom, name: valueFrom, fullArn: false };
    const [name = '', selector] = valueFrom.split(':');
    return { store: 'ssm', region, partition, names: [name], ...(selector ? { selector } : {}) };
  }
  const [, arnPartition = partition, service, arnRegion = region, account = '', ...rest] = valueFrom.split(':');
  const where = { region: arnRegion || region, partition: arnPartition, ...(account ? { account } : {}) };
  if (service === 'ssm' && rest[0]?.startsWith('parameter/')) {
    const path = rest[0].slice('parameter'.length); // `/web/DATABASE_URL`, or `/plain` for `plain` or `/plain`
    const names = path.indexOf('/', 1) > 0 ? [path] : [path.slice(1), path];
    return { store: 'ssm', ...where, names, ...(rest[1] ? { selector: rest[1] } : {}) };
  }
  if (service === 'secretsmanager' && rest[0] === 'secret' && rest[1]) {
    const [, id, jsonKey, versionStage, versionId] = rest;
    const fullArn = SECRET_SUFFIX.test(id);
    return {
      store: 'secretsmanager',
      ...where,
      secretId: `arn:${arnPartition}:secretsmanager:${where.region}:${account}:secret:${id}`,
      name: fullArn ? id.replace(SECRET_SUFFIX, '') : id,
      fullArn,
      ...(jsonKey ? { jsonKey } : {}),
      ...(versionStage ? { versionStage } : {}),
      ...(versionId ? { versionId } : {}),
    };
  }
  return undefined;
}

interface Lookups {
  parameters(ctx: VerifyContext, region: string): Promise<Map<string, ParameterMetadata>>;
}

function specsFor(td: TaskDefinition, ref: Reference, parsed: Parsed | undefined, lookups: Lookups): CheckSpec[] {
  const id = `secret:${ref.container}:${ref.source === 'registry' ? 'repositoryCredentials' : ref.source === 'log' ? `log:${ref.name}` : ref.name}`;
  const label = ref.source === 'registry' ? 'Registry credentials' : ref.source === 'log' ? `Log option ${mark(ref.name!)}` : `Secret ${mark(ref.name!)}`;
  const what = ref.source === 'registry' ? 'the private registry credentials' : ref.source === 'log' ? `the log driver's ${mark(ref.name!)}` : mark(ref.name!);
  const field = ref.source === 'registry' ? '`repositoryCredentials.credentialsParameter`' : `the \`valueFrom\` of ${what}`;
  const group = ['TaskDefinition', `Container ${ref.container}`];
  const base = { family: 'secrets' as const, group };

  if (!parsed) {
    return [
      {
        ...base,
        id,
        title: label,
        run: async () =>
          fail(
            `${what} in container ${mark(ref.container)} comes from ${mark(ref.valueFrom)}, which is neither a Parameter Store parameter nor a Secrets Manager secret ECS can read`,
            ref.source === 'registry'
              ? `Set ${field} to the ARN of a Secrets Manager secret (\`arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf\`).`
              : `Set ${field} to a parameter name or ARN (\`arn:aws:ssm:<region>:<account>:parameter/<name>\`) or a secret ARN (\`arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf\`).`,
          ),
      },
    ];
  }

  const resolve = (ctx: VerifyContext) => resolveReference(ctx, parsed, lookups);
  const execRole = td.executionRoleArn;

  const exists: CheckSpec = {
    ...base,
    id,
    title: label,
    run: async (ctx) => existence(await resolve(ctx), { what, field, container: ref.container }),
    async then(ctx) {
      const resolved = await resolve(ctx);
      const key = keyOf(resolved);
      return key && !isAwsManagedAlias(key) ? [kmsSpec(`${id}:kms`, `${label}: KMS key`, key)] : [];
    },
  };

  const access: CheckSpec = {
    ...base,
    id: `${id}:access`,
    title: `${label}: execution role access`,
    async run(ctx) {
      const action = parsed.store === 'ssm' ? 'ssm:GetParameters' : 'secretsmanager:GetSecretValue';
      if (!execRole) return noExecutionRole(what, action);
      // The real ARN if the lookup works; the reference's own otherwise (the permission is needed either way).
      const resolved = await resolve(ctx).catch(() => undefined);
      const arn = resolved?.arn ?? (await guessArn(ctx, parsed));
      const problem = await checkPermission(ctx, { label: ROLE_LABEL, roleArn: execRole, actions: [action], resources: [arn] });
      const me = await ctx.accountId();
      if (!problem) {
        const allowed = `the execution role ${mark(roleName(execRole))} may \`${action}\` on ${mark(arn)}`;
        if (parsed.account && parsed.account !== me) {
          return unverified(
            `${allowed}, but the ${parsed.store === 'ssm' ? 'parameter' : 'secret'} belongs to account ${parsed.account}, whose resource policy is not checked`,
            `Make sure the resource policy in account ${parsed.account} allows ${mark(execRole)} to \`${action}\`.`,
          );
        }
        return ok(allowed);
      }
      if (problem.status !== 'FAIL' || !(await ctx.role(execRole))) return problem;
      const denials = (await ctx.simulate(execRole, [action], [arn], {})).denials;
      const explicit = denials.some((d) => d.decision === 'explicitDeny');
      // For Secrets Manager, grant `<name>-??????` (AWS's advice) so the grant survives a recreated secret.
      const grantOn =
        parsed.store === 'secretsmanager' && !explicit
          ? `arn:${parsed.partition}:secretsmanager:${parsed.region}:${parsed.account ?? me}:secret:${parsed.name}-??????`
          : undefined;
      return fail(
        `${problem.message}: ECS cannot fetch ${what}, so tasks fail to start (ResourceInitializationError)`,
        grantOn ? fixFor(execRole, [{ action, resource: grantOn, decision: 'implicitDeny' }]) : problem.fix,
      );
    },
  };

  function kmsSpec(kmsId: string, title: string, keyRef: string): CheckSpec {
    return {
      ...base,
      id: kmsId,
      title,
      async run(ctx) {
        if (!execRole) return skip('no execution role (see the access check)');
        return decryptCheck(ctx, await resolve(ctx), keyRef, execRole, what);
      },
    };
  }

  return [exists, access];
}

// Lookups ------------------------------------------------------------------------------------

/** One DescribeParameters (Name Equals, up to 50 names a call) per region for every parameter of the task. */
function describeParameters(ctx: VerifyContext, region: string, wanted: Array<{ name: string; account?: string }>): Promise<Map<string, ParameterMetadata>> {
  return ctx.once(`secrets:ssm:${region}`, async () => {
    const me = await ctx.accountId();
    const names = [...new Set(wanted.filter((w) => !w.account || w.account === me).map((w) => w.name))].sort();
    const found = new Map<string, ParameterMetadata>();
    const client = ctx.aws.client(SSMClient, region);
    for (let i = 0; i < names.length; i += 50) {
      let token: string | undefined;
      do {
        const out = await client.send(
          new DescribeParametersCommand({
            ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: names.slice(i, i + 50) }],
            MaxResults: 50,
            ...(token ? { NextToken: token } : {}),
          }),
        );
        for (const p of out.Parameters ?? []) if (p.Name) found.set(p.Name, p);
        token = out.NextToken;
      } while (token);
    }
    return found;
  });
}

/** The secret's metadata (never its value), or undefined if there is no such secret. */
function describeSecret(ctx: VerifyContext, region: string, secretId: string): Promise<DescribeSecretResponse | undefined> {
  return ctx.once(`secrets:sm:${region}:${secretId}`, async () => {
    try {
      const { $metadata: _, ...secret } = await ctx.aws.client(SecretsManagerClient, region).send(new DescribeSecretCommand({ SecretId: secretId }));
      return secret;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  });
}

async function guessArn(ctx: VerifyContext, parsed: Parsed): Promise<string> {
  const account = parsed.account ?? (await ctx.accountId());
  if (parsed.store === 'ssm') {
    const name = parsed.names.at(-1)!;
    return `arn:${parsed.partition}:ssm:${parsed.region}:${account}:parameter${name.startsWith('/') ? name : `/${name}`}`;
  }
  if (parsed.secretId.startsWith('arn:') && parsed.fullArn) return parsed.secretId;
  // A name or partial ARN: IAM sees the full ARN, whose suffix is unknown.
  return `arn:${parsed.partition}:secretsmanager:${parsed.region}:${account}:secret:${parsed.name}-??????`;
}

function resolveReference(ctx: VerifyContext, parsed: Parsed, lookups: Lookups): Promise<Resolved> {
  const key = parsed.store === 'ssm' ? `ssm:${parsed.region}:${parsed.account ?? ''}:${parsed.names.join('|')}` : `sm:${parsed.region}:${parsed.secretId}`;
  return ctx.once(`secrets:resolve:${key}`, async () => {
    const me = await ctx.accountId();
    if (parsed.store === 'ssm') {
      if (parsed.account && parsed.account !== me) return { parsed, arn: await guessArn(ctx, parsed), foreign: true };
      const found = await lookups.parameters(ctx, parsed.region);
      const parameter = parsed.names.map((n) => found.get(n)).find(Boolean);
      return { parsed, arn: parameter?.ARN ?? (await guessArn(ctx, parsed)), ...(parameter ? { parameter } : {}) };
    }
    const secret = await describeSecret(ctx, parsed.region, parsed.secretId);
    if (secret) return { parsed, arn: secret.ARN ?? (await guessArn(ctx, parsed)), secret };
    // A full ARN that no longer resolves: was the secret deleted and recreated under the same name?
    const recreated = parsed.fullArn && (!parsed.account || parsed.account === me) ? await describeSecret(ctx, parsed.region, parsed.name) : undefined;
    return { parsed, arn: await guessArn(ctx, parsed), ...(recreated ? { recreated } : {}) };
  });
}

/** The KMS key protecting the value, if any: undefined for a plain String parameter. */
function keyOf(resolved: Resolved): string | undefined {
  if (resolved.parameter) return resolved.parameter.Type === 'SecureString' ? (resolved.parameter.KeyId ?? 'alias/aws/ssm') : undefined;
  if (resolved.secret) return resolved.secret.KmsKeyId ?? 'alias/aws/secretsmanager';
  return undefined;
}

const keyDescription = (keyRef: string) => (isAwsManagedAlias(keyRef) ? `the AWS managed key ${mark(keyRef)}` : `the KMS key ${mark(keyRef)}`);

// Checks -------------------------------------------------------------------------------------

function existence(resolved: Resolved, where: { what: string; field: string; container: string }): CheckOutcome {
  const { parsed } = resolved;
  const { what, field, container } = where;
  if (parsed.store === 'ssm') {
    const name = parsed.names.at(-1)!;
    if (resolved.foreign) {
      return unverified(
        `not verified: ${what} comes from parameter ${mark(name)} of account ${parsed.account}, which cannot be looked up from this account`,
        `Make sure the parameter is shared with this account (AWS RAM, advanced tier) and referenced by its full ARN.`,
      );
    }
    const p = resolved.parameter;
    if (!p) {
      return fail(
        `parameter ${mark(name)} does not exist in Parameter Store in ${parsed.region}: ECS cannot fetch ${what} for container ${mark(container)}, so tasks fail to start`,
        `Create it: \`aws ssm put-parameter --name ${name} --type SecureString --value '…' --region ${parsed.region}\`, or correct ${field}.`,
      );
    }
    const type =
      p.Type === 'SecureString' ? `SecureString, encrypted with ${keyDescription(p.KeyId ?? 'alias/aws/ssm')}` : `${p.Type ?? 'String'} (not encrypted)`;
    let selector = '';
    if (parsed.selector && /^\d+$/.test(parsed.selector)) {
      if (+parsed.selector > (p.Version ?? 0)) {
        return fail(
          `parameter ${mark(p.Name!)} exists, but ${field} asks for version ${parsed.selector} and the latest is ${p.Version}`,
          `Point ${field} at an existing version (\`${p.Name}:${p.Version}\`) or drop the \`:${parsed.selector}\`.`,
        );
      }
      selector = `; version ${parsed.selector} of ${p.Version}`;
    } else if (parsed.selector) {
      selector = `; the label ${mark(parsed.selector)} is not checked (that needs the parameter's history)`;
    }
    return ok(`parameter ${mark(p.Name!)} exists in Parameter Store (${parsed.region}): ${type}${selector}`);
  }

  const s = resolved.secret;
  if (!s) {
    const now = resolved.recreated;
    if (now?.ARN) {
      return fail(
        `secret ${mark(parsed.secretId)} no longer exists: ${mark(parsed.name)} was deleted and recreated as ${mark(now.ARN)}, and the task definition still names the old one. ECS cannot fetch ${what}, so tasks fail to start`,
        `Change ${field} in container ${mark(container)} to ${mark(now.ARN + refTail(parsed))} and register a new task definition revision.`,
      );
    }
    const create = `\`aws secretsmanager create-secret --name ${parsed.name} --secret-string '…' --region ${parsed.region}\``;
    return fail(
      `secret ${mark(parsed.secretId)} does not exist in Secrets Manager in ${parsed.region}: ECS cannot fetch ${what} for container ${mark(container)}, so tasks fail to start`,
      parsed.fullArn
        ? `Create it (${create}) and put the new secret's ARN (it gets a new random suffix) in ${field}, or correct ${field} if it names the wrong secret.`
        : `Create it: ${create}, or correct ${field}.`,
    );
  }
  const name = mark(s.Name ?? parsed.name);
  if (s.DeletedDate) {
    return fail(
      `secret ${name} is scheduled for deletion (on ${new Date(s.DeletedDate).toISOString().slice(0, 10)}): ECS cannot fetch ${what}, so tasks fail to start`,
      `Restore it: \`aws secretsmanager restore-secret --secret-id ${s.ARN} --region ${parsed.region}\`.`,
    );
  }
  const versions = Object.entries(s.VersionIdsToStages ?? {});
  const stage = parsed.versionStage;
  const id = parsed.versionId;
  let version = 'its AWSCURRENT version';
  if (id) {
    const stages = versions.find(([v]) => v === id)?.[1];
    if (!stages) return fail(`secret ${name} has no version ${mark(id)}, which ${field} asks for`, versionFix(field, versions));
    if (stage && !stages.includes(stage))
      return fail(`version ${mark(id)} of secret ${name} is not labelled ${mark(stage)}, as ${field} asks`, versionFix(field, versions));
    version = `version ${mark(id)}`;
  } else if (stage) {
    if (!versions.some(([, stages]) => stages.includes(stage)))
      return fail(`no version of secret ${name} is labelled ${mark(stage)}, which ${field} asks for`, versionFix(field, versions));
    version = `the version labelled ${mark(stage)}`;
  } else if (versions.length && !versions.some(([, stages]) => stages.includes('AWSCURRENT'))) {
    return fail(
      `secret ${name} has no AWSCURRENT version: ECS cannot fetch ${what}`,
      `Give it a value: \`aws secretsmanager put-secret-value --secret-id ${s.ARN} --secret-string '…'\`.`,
    );
  }
  const jsonKey = parsed.jsonKey ? `; the JSON key ${mark(parsed.jsonKey)} is not checked (that would mean reading the value)` : '';
  const partial = parsed.fullArn ? '' : ` (referenced by ${parsed.secretId.startsWith('arn:') ? 'partial ARN' : 'name'}: ${mark(s.ARN!)})`;
  return ok(
    `secret ${name} exists in Secrets Manager (${parsed.region})${partial} with ${version}, encrypted with ${keyDescription(s.KmsKeyId ?? 'alias/aws/secretsmanager')}${jsonKey}`,
  );
}

/** `:json-key:stage:id` as written, to keep them when pointing at the recreated secret. */
function refTail(parsed: SecretRef): string {
  const tail = [parsed.jsonKey ?? '', parsed.versionStage ?? '', parsed.versionId ?? ''];
  while (tail.length && !tail.at(-1)) tail.pop();
  return tail.length ? `:${tail.join(':')}` : '';
}

function versionFix(field: string, versions: Array<[string, string[]]>): string {
  const known = versions.map(([id, stages]) => `${mark(id)} (${stages.join(', ')})`).join(', ');
  return `Point ${field} at an existing version or label${known ? `: ${known}` : ''}, or leave both empty for AWSCURRENT.`;
}

function noExecutionRole(what: string, action: string): CheckOutcome {
  return fail(
    `the task definition has no execution role, which ECS needs to fetch ${what}`,
    `Set \`executionRoleArn\` to a role trusted by \`ecs-tasks.amazonaws.com\` that may \`${action}\` on the secret.`,
  );
}

/**
 * kms:Decrypt as the execution role, through SSM or Secrets Manager (kms:ViaService). Two things
 * must both allow it: the role's own policy (IAM's simulator, as the role) and the key policy,
 * which has the last word in KMS (read and judged here: IAM's simulator does not apply KMS's rule).
 * The simulation and the key lookups run at the same time: they do not depend on each other.
 */
async function decryptCheck(ctx: VerifyContext, resolved: Resolved, keyRef: string, roleArn: string, what: string): Promise<CheckOutcome> {
  const { parsed } = resolved;
  const service = parsed.store === 'ssm' ? 'ssm' : 'secretsmanager';
  const keyRegion = keyRef.startsWith('arn:') ? (keyRef.split(':')[3] ?? parsed.region) : parsed.region;
  const me = await ctx.accountId();
  const via = `${service}.${parsed.region}.amazonaws.com`;
  const context: ContextEntry[] = [
    { ContextKeyName: 'kms:ViaService', ContextKeyValues: [via], ContextKeyType: 'string' },
    { ContextKeyName: 'kms:CallerAccount', ContextKeyValues: [me], ContextKeyType: 'string' },
    // What SSM and Secrets Manager put in the encryption context, for policies that pin it.
    {
      ContextKeyName: parsed.store === 'ssm' ? 'kms:EncryptionContext:PARAMETER_ARN' : 'kms:EncryptionContext:SecretARN',
      ContextKeyValues: [resolved.arn],
      ContextKeyType: 'string',
    },
  ];
  // A key ARN needs no DescribeKey before its policy can be read; an alias does.
  const keyArnGuess = keyRef.startsWith('arn:') && keyRef.includes(':key/') ? keyRef : undefined;
  const earlyPolicy = keyArnGuess ? keyPolicy(ctx, keyRegion, keyArnGuess).catch(() => undefined) : undefined;
  const keyPromise = describeKey(ctx, keyRegion, keyRef);
  const identity = keyPromise.then((key) =>
    key.KeyManager === 'AWS' ? undefined : checkPermission(ctx, { label: ROLE_LABEL, roleArn, actions: ['kms:Decrypt'], resources: [key.Arn!], context }),
  );
  identity.catch(() => undefined); // awaited below; keep an early rejection from going unhandled

  const key = await keyPromise;
  const keyArn = key.Arn!;
  const keyName = keyRef === keyArn ? mark(keyArn) : `${mark(keyRef)} (${mark(keyArn)})`;
  if (key.KeyManager === 'AWS') {
    return ok(`encrypted with the AWS managed key ${keyName}, which ${service} may use for any role of the account allowed to read it`);
  }
  if (key.KeyState !== 'Enabled') {
    const fix =
      key.KeyState === 'PendingDeletion'
        ? `Cancel the deletion: \`aws kms cancel-key-deletion --key-id ${keyArn}\`, then \`aws kms enable-key --key-id ${keyArn}\`.`
        : `Enable it: \`aws kms enable-key --key-id ${keyArn}\`.`;
    return fail(`the KMS key ${keyName} that encrypts ${what} is ${key.KeyState}: the value cannot be decrypted, so tasks fail to start`, fix);
  }
  if (key.AWSAccountId && key.AWSAccountId !== me) {
    return unverified(
      `not verified: the KMS key ${keyName} belongs to account ${key.AWSAccountId}, whose key policy cannot be read from here`,
      `Make sure the key policy in account ${key.AWSAccountId} allows ${mark(roleArn)} to \`kms:Decrypt\`, and the role's policy allows \`kms:Decrypt\` on ${mark(keyArn)}.`,
    );
  }
  const policy = (await earlyPolicy) ?? (await keyPolicy(ctx, keyRegion, keyArn));
  const keyPolicyCouldAllow = keyPolicyMayAllow(policy, roleArn, me);
  const roleProblem = await identity;
  const role = mark(roleName(roleArn));

  if (!roleProblem) {
    if (!keyPolicyCouldAllow) return keyPolicyFailure(roleArn, keyArn, keyName, via, what, keyPolicyCouldAllow);
    return ok(`the execution role ${role} may \`kms:Decrypt\` with ${keyName} through ${service}: its policy and the key policy both allow it`);
  }
  if (roleProblem.unverified) return keyPolicyCouldAllow ? roleProblem : keyPolicyFailure(roleArn, keyArn, keyName, via, what, keyPolicyCouldAllow);
  if (/explicitly denied|does not exist/.test(roleProblem.message)) return { ...roleProblem, message: `${roleProblem.message}: ECS cannot decrypt ${what}` };
  const alsoKeyPolicy = keyPolicyCouldAllow ? '' : ` The key policy does not let the role use the key either: ${keyPolicyStatementFix(roleArn, keyArn, via)}`;
  const statement = { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn, Condition: { StringEquals: { 'kms:ViaService': via } } };
  return fail(
    `the execution role ${role} may not \`kms:Decrypt\` with ${keyName}, which encrypts ${what}: ECS cannot decrypt the value, so tasks fail to start` +
      (keyPolicyCouldAllow ? '' : ' (and the key policy does not let the role use the key either)'),
    `Allow it on the role: \`aws iam put-role-policy --role-name ${roleName(roleArn)} --policy-name kms-decrypt-secrets --policy-document '${JSON.stringify({ Version: '2012-10-17', Statement: [statement] })}'\`.${alsoKeyPolicy}`,
  );
}

function keyPolicyFailure(roleArn: string, keyArn: string, keyName: string, via: string, what: string, couldAllow: boolean): CheckOutcome {
  const why = couldAllow
    ? 'its statements for the role or the account do not match this use (check their conditions)'
    : 'it neither names the role nor lets the account’s IAM policies grant access to the key';
  return fail(
    `the key policy of ${keyName} does not let the execution role ${mark(roleName(roleArn))} decrypt (${why}), so the role's own \`kms:Decrypt\` permission has no effect: ECS cannot decrypt ${what}, so tasks fail to start`,
    keyPolicyStatementFix(roleArn, keyArn, via),
  );
}

function keyPolicyStatementFix(roleArn: string, keyArn: string, via: string): string {
  const statement = {
    Sid: `AllowDecryptFor${roleName(roleArn).replace(/(?:^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase())}`,
    Effect: 'Allow',
    Principal: { AWS: roleArn },
    Action: 'kms:Decrypt',
    Resource: '*',
    Condition: { StringEquals: { 'kms:ViaService': via } },
  };
  return (
    `Add this statement to the key policy: \`${JSON.stringify(statement)}\` — ` +
    `\`aws kms get-key-policy --key-id ${keyArn} --policy-name default --query Policy --output text > key-policy.json\`, add it to \`Statement\`, then ` +
    `\`aws kms put-key-policy --key-id ${keyArn} --policy-name default --policy file://key-policy.json\`.`
  );
}

/**
 * Whether any Allow statement of the key policy could cover kms:Decrypt for the role: naming the
 * role, the account (which hands the decision to IAM policies) or everyone. Conditions are ignored,
 * so `false` is certain and `true` only possible. An unreadable policy counts as possible.
 */
export function keyPolicyMayAllow(policy: string, roleArn: string, account: string): boolean {
  let statements: Array<Record<string, unknown>>;
  try {
    const doc = JSON.parse(policy) as { Statement?: unknown };
    statements = [doc.Statement ?? []].flat() as Array<Record<string, unknown>>;
  } catch {
    return true;
  }
  const list = (v: unknown): string[] => (v === undefined ? [] : [v].flat().map(String));
  const matches = (pattern: string, value: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replaceAll('*', '.*')
        .replaceAll('?', '.')}$`,
      'i',
    ).test(value);
  const partition = roleArn.split(':')[1] ?? 'aws';
  const principals = new Set(['*', roleArn, account, `arn:${partition}:iam::${account}:root`]);
  return statements.some((s) => {
    if (s.Effect !== 'Allow') return false;
    const action =
      s.NotAction !== undefined ? !list(s.NotAction).some((a) => matches(a, 'kms:Decrypt')) : list(s.Action).some((a) => matches(a, 'kms:Decrypt'));
    if (!action) return false;
    const principal = s.Principal;
    if (principal === '*') return true;
    return list((principal as { AWS?: unknown } | undefined)?.AWS).some((p) => principals.has(p));
  });
}
