/**
 * AWS KMS (JSON 1.1, target TrentService): key metadata, aliases and key policies, which is what a
 * "can the execution role decrypt this secret" check needs (the policy goes to IAM's simulator as
 * ResourcePolicy). AWS managed keys (`alias/aws/ssm`, `alias/aws/secretsmanager`, …) appear on
 * first DescribeKey, as in AWS, with the key policy AWS gives them.
 */
import type { AliasListEntry, KeyMetadata } from '@aws-sdk/client-kms';
import { policyText } from '../policy';
import { AwsError, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { uuid, type RegionState } from '../state';

export interface KmsKey {
  metadata: KeyMetadata;
  policy: string;
}
interface KmsState {
  keys: Map<string, KmsKey>;
  aliases: Map<string, AliasListEntry>;
}

const stores = new WeakMap<RegionState, KmsState>();
export const kmsState = (r: RegionState): KmsState => stores.get(r) ?? stores.set(r, { keys: new Map(), aliases: new Map() }).get(r)!;

const keyArn = (r: RegionState, id: string) => `arn:aws:kms:${r.region}:${r.accountId}:key/${id}`;
const aliasArn = (r: RegionState, name: string) => `arn:aws:kms:${r.region}:${r.accountId}:${name}`;

/** Creates a symmetric key, optionally with an alias; used by the seed and tests. */
export function putKey(
  r: RegionState,
  spec: { id?: string; alias?: string; description?: string; policy: string; createdAt: Date; awsManaged?: boolean; enabled?: boolean },
): KmsKey {
  const id = spec.id ?? uuid();
  const key: KmsKey = {
    metadata: {
      AWSAccountId: r.accountId,
      KeyId: id,
      Arn: keyArn(r, id),
      CreationDate: spec.createdAt,
      Enabled: spec.enabled ?? true,
      Description: spec.description ?? '',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: spec.enabled === false ? 'Disabled' : 'Enabled',
      Origin: 'AWS_KMS',
      KeyManager: spec.awsManaged ? 'AWS' : 'CUSTOMER',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
    },
    policy: spec.policy,
  };
  kmsState(r).keys.set(id, key);
  if (spec.alias) {
    kmsState(r).aliases.set(spec.alias, {
      AliasName: spec.alias,
      AliasArn: aliasArn(r, spec.alias),
      TargetKeyId: id,
      CreationDate: spec.createdAt,
      LastUpdatedDate: spec.createdAt,
    });
  }
  return key;
}

/** The key policy AWS attaches to the AWS managed key of a service (`ssm`, `secretsmanager`, …). */
export function awsManagedKeyPolicy(r: RegionState, service: string): string {
  const via = `${service}.${r.region}.amazonaws.com`;
  return policyText({
    Version: '2012-10-17',
    Id: `auto-${service}-1`,
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': r.accountId, 'kms:ViaService': via } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${r.accountId}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  });
}

/** `alias/aws/<service>`, creating the AWS managed key on first use as AWS does. */
export function awsManagedKey(r: RegionState, service: string, createdAt: Date): KmsKey {
  const alias = `alias/aws/${service}`;
  const existing = kmsState(r).aliases.get(alias);
  if (existing) return kmsState(r).keys.get(existing.TargetKeyId!)!;
  return putKey(r, {
    id: uuid(`kms/${r.accountId}/${r.region}/${alias}`),
    alias,
    description: `Default key that protects my ${service} data when no other key is defined`,
    policy: awsManagedKeyPolicy(r, service),
    createdAt,
    awsManaged: true,
  });
}

/**
 * Resolves a key id, key ARN, alias name or alias ARN, or throws NotFoundException as KMS words it.
 * `aliases: false` refuses aliases (GetKeyPolicy and ListAliases' KeyId take keys only).
 */
function findKey(ctx: CallContext, ref: string, aliases = true): KmsKey {
  const r = ctx.regional;
  const notFound = (message: string) => new AwsError('NotFoundException', message);
  const aliasName = ref.startsWith('alias/') ? ref : /^arn:aws:kms:[^:]+:\d{12}:(alias\/.+)$/.exec(ref)?.[1];
  if (aliasName) {
    if (!aliases) throw notFound(`Invalid keyId ${ref}`);
    const alias = kmsState(r).aliases.get(aliasName);
    if (alias) return kmsState(r).keys.get(alias.TargetKeyId!)!;
    const service = /^alias\/aws\/([a-z0-9-]+)$/.exec(aliasName)?.[1];
    if (service) return awsManagedKey(r, service, ctx.clock.date());
    throw notFound(`Alias ${aliasArn(r, aliasName)} is not found.`);
  }
  const id = /^arn:aws:kms:[^:]+:\d{12}:key\/(.+)$/.exec(ref)?.[1] ?? ref;
  if (!/^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/.test(id)) throw notFound(`Invalid keyId '${ref}'`);
  const key = kmsState(r).keys.get(id);
  if (!key) throw notFound(`Key '${keyArn(r, id)}' does not exist`);
  return key;
}

const keyArns = (p: Params, ctx: CallContext) => {
  const ref = String(p.KeyId ?? '');
  return [ref.startsWith('arn:') ? ref : ref.startsWith('alias/') ? aliasArn(ctx.regional, ref) : keyArn(ctx.regional, ref)];
};

export const kmsService: ServiceDefinition = {
  name: 'kms',
  protocol: 'json',
  target: 'TrentService',
  actions: {
    DescribeKey: {
      resources: keyArns,
      handler: (p, ctx) => ({ KeyMetadata: structuredClone(findKey(ctx, String(p.KeyId ?? '')).metadata) }),
    },

    GetKeyPolicy: {
      resources: keyArns,
      handler: (p, ctx) => {
        const key = findKey(ctx, String(p.KeyId ?? ''), false);
        const name = p.PolicyName ?? 'default';
        if (name !== 'default') throw new AwsError('NotFoundException', `No such policy exists: ${name}`);
        return { Policy: key.policy, PolicyName: 'default' };
      },
    },

    ListAliases: (p, ctx) => {
      const limit = p.Limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw AwsError.common('Validation', `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100`);
      }
      const target = p.KeyId ? findKey(ctx, String(p.KeyId), false).metadata.KeyId : undefined;
      const all = [...kmsState(ctx.regional).aliases.values()]
        .filter((a) => !target || a.TargetKeyId === target)
        .sort((a, b) => a.AliasName!.localeCompare(b.AliasName!));
      const offset = p.Marker ? Number(Buffer.from(String(p.Marker), 'base64').toString('utf8')) : 0;
      const Aliases = all.slice(offset, offset + limit);
      const truncated = offset + limit < all.length;
      return {
        Aliases: structuredClone(Aliases),
        Truncated: truncated,
        ...(truncated ? { NextMarker: Buffer.from(String(offset + limit)).toString('base64') } : {}),
      };
    },
  },
};
