/**
 * AWS Secrets Manager (JSON 1.1, target secretsmanager): secrets with versions and staging labels.
 * A secret ARN ends in `-` plus six random characters; callers may also use the name or a partial
 * ARN without that suffix, so a full ARN whose suffix is stale (the secret was deleted and
 * recreated) does not match, exactly the trap a task definition falls into.
 */
import { AwsError, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { uuid, type RegionState } from '../state';
import { authorizeKeyUseVia } from './kms';

export interface SecretVersion {
  versionId: string;
  stages: string[];
  secretString: string;
  createdDate: Date;
}
export interface Secret {
  name: string;
  arn: string;
  description?: string;
  /** Unset means the AWS managed key `alias/aws/secretsmanager`. */
  kmsKeyId?: string;
  createdDate: Date;
  lastChangedDate: Date;
  lastAccessedDate?: Date;
  deletedDate?: Date;
  tags: Array<{ Key: string; Value: string }>;
  versions: SecretVersion[];
}

const stores = new WeakMap<RegionState, Map<string, Secret>>();
export const secretsState = (r: RegionState): Map<string, Secret> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;

/** Stores a secret with one AWSCURRENT version; `suffix` is the six characters AWS appends to the ARN. */
export function putSecret(
  r: RegionState,
  spec: { name: string; suffix: string; value: string; createdDate: Date; kmsKeyId?: string; description?: string; tags?: Record<string, string> },
): Secret {
  const secret: Secret = {
    name: spec.name,
    arn: `arn:aws:secretsmanager:${r.region}:${r.accountId}:secret:${spec.name}-${spec.suffix}`,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.kmsKeyId ? { kmsKeyId: spec.kmsKeyId } : {}),
    createdDate: spec.createdDate,
    lastChangedDate: spec.createdDate,
    tags: Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    versions: [
      {
        versionId: uuid(`secret/${r.accountId}/${spec.name}/${spec.suffix}/1`),
        stages: ['AWSCURRENT'],
        secretString: spec.value,
        createdDate: spec.createdDate,
      },
    ],
  };
  secretsState(r).set(spec.name, secret);
  return secret;
}

/** Adds a version that becomes AWSCURRENT, demoting the previous one to AWSPREVIOUS (as PutSecretValue does). */
export function putSecretVersion(secret: Secret, value: string, createdDate: Date, versionId = uuid()): SecretVersion {
  for (const v of secret.versions) {
    v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
    if (v.stages.includes('AWSCURRENT')) v.stages = [...v.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
  }
  const version = { versionId, stages: ['AWSCURRENT'], secretString: value, createdDate };
  secret.versions.push(version);
  secret.lastChangedDate = createdDate;
  return version;
}

const notFound = (detail?: string) => new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret${detail ?? '.'}`);

/** By name, full ARN (exact), or partial ARN (no suffix). */
function findSecret(ctx: CallContext, ref: string): Secret {
  const secrets = secretsState(ctx.regional);
  if (ref.startsWith('arn:')) {
    const exact = [...secrets.values()].find((s) => s.arn === ref);
    if (exact) return exact;
    const partial = secrets.get(ref.slice(ref.indexOf(':secret:') + ':secret:'.length));
    if (partial && ref === partial.arn.slice(0, -7)) return partial;
    throw notFound();
  }
  const secret = secrets.get(ref);
  if (!secret) throw notFound();
  return secret;
}

const secretArns = (p: Params, ctx: CallContext) => {
  const ref = String(p.SecretId ?? '');
  if (ref.startsWith('arn:')) return [ref];
  // IAM evaluates the full ARN; for an unknown name the best guess is a wildcard suffix.
  return [secretsState(ctx.regional).get(ref)?.arn ?? `arn:aws:secretsmanager:${ctx.region}:${ctx.accountId}:secret:${ref}-??????`];
};

export const secretsManagerService: ServiceDefinition = {
  name: 'secretsmanager',
  protocol: 'json',
  target: 'secretsmanager',
  actions: {
    DescribeSecret: {
      resources: secretArns,
      handler: (p, ctx) => {
        const s = findSecret(ctx, String(p.SecretId ?? ''));
        return {
          ARN: s.arn,
          Name: s.name,
          Description: s.description,
          KmsKeyId: s.kmsKeyId,
          RotationEnabled: false,
          LastChangedDate: s.lastChangedDate,
          LastAccessedDate: s.lastAccessedDate,
          DeletedDate: s.deletedDate,
          Tags: s.tags.length ? s.tags : undefined,
          VersionIdsToStages: Object.fromEntries(s.versions.filter((v) => v.stages.length).map((v) => [v.versionId, v.stages])),
          CreatedDate: s.createdDate,
        };
      },
    },

    GetSecretValue: {
      resources: secretArns,
      handler: (p, ctx) => {
        const s = findSecret(ctx, String(p.SecretId ?? ''));
        if (s.deletedDate) {
          throw new AwsError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");
        }
        const stage = p.VersionStage ?? (p.VersionId ? undefined : 'AWSCURRENT');
        const version = s.versions.find((v) => (!p.VersionId || v.versionId === p.VersionId) && (!stage || v.stages.includes(stage)));
        if (!version) {
          throw notFound(p.VersionId ? ` value for VersionId: ${p.VersionId}` : ` value for staging label: ${stage}`);
        }
        // Reading the value decrypts it: a second permission on the key, as in AWS.
        // Secrets Manager's encryption context names the secret and the version (SecretARN, SecretVersionId).
        authorizeKeyUseVia(ctx, 'kms:Decrypt', 'secretsmanager', s.kmsKeyId ?? 'alias/aws/secretsmanager', {
          SecretARN: s.arn,
          SecretVersionId: version.versionId,
        });
        s.lastAccessedDate = new Date(new Date(ctx.clock.now()).setUTCHours(0, 0, 0, 0)); // AWS keeps the date only
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: version.versionId,
          SecretString: version.secretString,
          VersionStages: version.stages,
          CreatedDate: version.createdDate,
        };
      },
    },
  },
};
