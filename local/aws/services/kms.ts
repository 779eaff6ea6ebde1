/**
 * AWS KMS (JSON 1.1, target TrentService): key metadata, aliases and key policies, which is what a
 * "can the execution role decrypt this secret" check needs (the policy goes to IAM's simulator as
 * ResourcePolicy). AWS managed keys (`alias/aws/ssm`, `alias/aws/secretsmanager`, …) appear on
 * first DescribeKey, as in AWS, with the key policy AWS gives them.
 *
 * GenerateDataKey and Decrypt do real envelope encryption (what an ECS Exec session encrypted with
 * the cluster's key needs: the client generates a data key, the agent in the container decrypts
 * it). Ciphertext blobs are this emulator's own format, opaque to callers as AWS's are: they name
 * the key, and AES-GCM binds them to the encryption context, so a Decrypt with a different context
 * fails with InvalidCiphertextException exactly as in KMS.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
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

/**
 * A service (SSM, Secrets Manager) using a key on the caller's behalf: KMS evaluates the action
 * (`kms:Decrypt` to read a value, `kms:Encrypt` to store one) for the caller on the key itself (never its alias), with the key policy as authoritative
 * resource policy and the condition keys such a request carries (`kms:ViaService`,
 * `kms:CallerAccount`, `kms:EncryptionContext:<key>`). An AWS managed key's policy allows any
 * principal of the account through its service, so a role needs no grant for it; a customer
 * managed key needs the key policy to allow (itself or IAM policies) and the role's policy to allow.
 */
export function authorizeKeyUseVia(
  ctx: CallContext,
  action: 'kms:Decrypt' | 'kms:Encrypt' | 'kms:GenerateDataKey',
  service: string,
  keyRef: string,
  encryptionContext: Record<string, string>,
): void {
  const key = findKey(ctx, keyRef);
  const context: Record<string, string[]> = {
    'kms:ViaService': [`${service}.${ctx.region}.amazonaws.com`],
    'kms:CallerAccount': [ctx.identity.accountId],
  };
  for (const [name, value] of Object.entries(encryptionContext)) context[`kms:EncryptionContext:${name}`] = [value];
  ctx.authorize(action, key.metadata.Arn!, { context, resourcePolicy: { id: 'ResourcePolicy', type: 'resource', text: key.policy } });
}

// Envelope encryption ---------------------------------------------------------------------------

/** Blob: magic, key id length (1 byte), key id (UTF-8: a UUID or `mrk-…`), GCM nonce (12), tag (16), ciphertext. */
const BLOB_MAGIC = Buffer.from('LKMS1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Key material derived from the key ARN: stable across restarts, and never leaves the emulator. */
const material = (key: KmsKey) => createHash('sha256').update(`local-kms-material/${key.metadata.Arn}`).digest();

/** The encryption context as AAD: sorted keys, so `{a,b}` and `{b,a}` are the same context, as in KMS. */
function contextAad(context: unknown): Buffer {
  const entries = Object.entries((context ?? {}) as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries));
}

function usableKey(key: KmsKey): KmsKey {
  if (key.metadata.KeyState === 'Disabled' || key.metadata.Enabled === false) {
    throw new AwsError('DisabledException', `${key.metadata.Arn} is disabled.`);
  }
  if (key.metadata.KeyState && key.metadata.KeyState !== 'Enabled') {
    throw new AwsError('KMSInvalidStateException', `${key.metadata.Arn} is pending deletion.`);
  }
  return key;
}

function seal(key: KmsKey, plaintext: Buffer, context: unknown): Buffer {
  const id = Buffer.from(key.metadata.KeyId!, 'utf8');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', material(key), nonce);
  cipher.setAAD(contextAad(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([BLOB_MAGIC, Buffer.from([id.length]), id, nonce, cipher.getAuthTag(), body]);
}

/** The key id a blob names and where its nonce starts, or undefined when the bytes are not a blob of this emulator. */
function parseBlob(blob: Buffer): { keyId: string; at: number } | undefined {
  if (blob.length < BLOB_MAGIC.length + 1 || !blob.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC)) return undefined;
  const idLength = blob[BLOB_MAGIC.length]!;
  const at = BLOB_MAGIC.length + 1 + idLength;
  if (blob.length < at + NONCE_BYTES + TAG_BYTES) return undefined;
  return { keyId: blob.toString('utf8', BLOB_MAGIC.length + 1, at), at };
}

/** KMS's answer to a blob it cannot open (AWS sends no message with it). */
const invalidCiphertext = () => new AwsError('InvalidCiphertextException', '');

/**
 * Decrypts a blob made by GenerateDataKey with the same encryption context. Exported for the
 * local ECS Exec agent, which decrypts the session's data key as the task role would.
 */
export function decryptBlob(r: RegionState, blob: Buffer, context: Record<string, string> | undefined): { key: KmsKey; plaintext: Buffer } {
  const parsed = parseBlob(blob);
  const key = parsed ? kmsState(r).keys.get(parsed.keyId) : undefined;
  if (!parsed || !key) throw invalidCiphertext();
  usableKey(key);
  const { at } = parsed;
  const decipher = createDecipheriv('aes-256-gcm', material(key), blob.subarray(at, at + NONCE_BYTES));
  decipher.setAAD(contextAad(context));
  decipher.setAuthTag(blob.subarray(at + NONCE_BYTES, at + NONCE_BYTES + TAG_BYTES));
  try {
    return { key, plaintext: Buffer.concat([decipher.update(blob.subarray(at + NONCE_BYTES + TAG_BYTES)), decipher.final()]) };
  } catch {
    throw invalidCiphertext();
  }
}

function checkContext(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw AwsError.common('Validation', 'EncryptionContext must be a map of strings.');
  }
  return value as Record<string, string>;
}

function blobParam(value: unknown): Buffer {
  if (typeof value !== 'string' || !value)
    throw AwsError.common('Validation', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
  return Buffer.from(value, 'base64');
}

/** The key a request names: KMS authorises on the key itself, even when the request names an alias. */
function requestedKey(ctx: CallContext, ref: string): KmsKey | undefined {
  try {
    return findKey(ctx, ref);
  } catch {
    return undefined; // the handler answers NotFoundException
  }
}

const keyArns = (p: Params, ctx: CallContext) => {
  const ref = String(p.KeyId ?? '');
  const key = requestedKey(ctx, ref);
  if (key) return [key.metadata.Arn!];
  return [ref.startsWith('arn:') ? ref : ref.startsWith('alias/') ? aliasArn(ctx.regional, ref) : keyArn(ctx.regional, ref)];
};

/** KMS weighs the key policy in every decision (it is authoritative: see policy.ts). */
const keyPolicyOf = (_p: Params, ctx: CallContext, resource: string) => {
  const key = resource.startsWith('arn:') ? requestedKey(ctx, resource) : undefined;
  return key
    ? { resourcePolicy: { id: 'ResourcePolicy', type: 'resource' as const, text: key.policy }, context: { 'kms:CallerAccount': [ctx.identity.accountId] } }
    : undefined;
};

export const kmsService: ServiceDefinition = {
  name: 'kms',
  protocol: 'json',
  target: 'TrentService',
  actions: {
    GenerateDataKey: {
      resources: keyArns,
      authorization: keyPolicyOf,
      handler: (p, ctx) => {
        if (typeof p.KeyId !== 'string' || !p.KeyId) {
          throw AwsError.common('Validation', "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
        }
        const key = usableKey(findKey(ctx, p.KeyId));
        if ((p.NumberOfBytes === undefined) === (p.KeySpec === undefined)) {
          throw AwsError.common('Validation', 'Please specify either number of bytes or key spec.');
        }
        let size: number;
        if (p.KeySpec !== undefined) {
          if (p.KeySpec !== 'AES_256' && p.KeySpec !== 'AES_128') {
            throw AwsError.common(
              'Validation',
              `1 validation error detected: Value '${p.KeySpec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`,
            );
          }
          size = p.KeySpec === 'AES_256' ? 32 : 16;
        } else {
          size = p.NumberOfBytes;
          if (!Number.isInteger(size) || size < 1 || size > 1024) {
            throw AwsError.common(
              'Validation',
              `1 validation error detected: Value '${size}' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024`,
            );
          }
        }
        const plaintext = randomBytes(size);
        return {
          CiphertextBlob: seal(key, plaintext, checkContext(p.EncryptionContext)).toString('base64'),
          Plaintext: plaintext.toString('base64'),
          KeyId: key.metadata.Arn,
        };
      },
    },

    Decrypt: {
      // IAM evaluates the key the blob names (Decrypt needs no KeyId).
      resources: (p, ctx) => {
        const id = typeof p.CiphertextBlob === 'string' ? parseBlob(Buffer.from(p.CiphertextBlob, 'base64'))?.keyId : undefined;
        return [id ? keyArn(ctx.regional, id) : '*'];
      },
      authorization: keyPolicyOf,
      handler: (p, ctx) => {
        const blob = blobParam(p.CiphertextBlob);
        const { key, plaintext } = decryptBlob(ctx.regional, blob, checkContext(p.EncryptionContext));
        if (typeof p.KeyId === 'string' && p.KeyId && findKey(ctx, p.KeyId).metadata.KeyId !== key.metadata.KeyId) {
          throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
        }
        return { KeyId: key.metadata.Arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      },
    },

    DescribeKey: {
      resources: keyArns,
      authorization: keyPolicyOf,
      handler: (p, ctx) => ({ KeyMetadata: structuredClone(findKey(ctx, String(p.KeyId ?? '')).metadata) }),
    },

    GetKeyPolicy: {
      resources: keyArns,
      authorization: keyPolicyOf,
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
        throw AwsError.common(
          'Validation',
          `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100`,
        );
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
