/**
 * AWS Systems Manager Parameter Store (JSON 1.1, target AmazonSSM). SecureString values come back
 * as opaque ciphertext unless WithDecryption is set, and decrypting is a separate `kms:Decrypt`
 * permission, so a denied key is as testable as a denied parameter.
 */
import { createHash } from 'node:crypto';
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { arns, type SsmParameter, type SsmParameterVersion } from '../state';
import { authorizeKeyUseVia } from './kms';

const DEFAULT_KEY = 'alias/aws/ssm';

/** `name`, `name:3` (version selector) or a parameter ARN → the stored parameter and version. */
function lookup(ctx: CallContext, ref: string): { param: SsmParameter; version: SsmParameterVersion; selector?: string } | undefined {
  let name = ref.startsWith('arn:') ? ref.slice(ref.indexOf(':parameter') + ':parameter'.length) : ref;
  if (ref.startsWith('arn:') && !/^\/.*\//.test(name)) name = name.slice(1); // `parameter/plain` → `plain`
  const selector = /:(\d+)$/.exec(name);
  if (selector) name = name.slice(0, selector.index);
  const param = ctx.regional.ssm.parameters.get(name);
  if (!param) return undefined;
  const version = selector ? param.versions.find((v) => v.version === +selector[1]!) : param.versions.at(-1);
  return version ? { param, version, ...(selector ? { selector: selector[0] } : {}) } : undefined;
}

function present(ctx: CallContext, found: NonNullable<ReturnType<typeof lookup>>, decrypt: boolean) {
  const { param, version, selector } = found;
  let value = version.value;
  if (version.type === 'SecureString') {
    // SSM decrypts with the parameter's ARN as encryption context (PARAMETER_ARN), as in AWS.
    if (decrypt) authorizeKeyUseVia(ctx, 'kms:Decrypt', 'ssm', version.keyId ?? DEFAULT_KEY, { PARAMETER_ARN: arns.parameter(ctx.regional, param.name) });
    // Stand-in ciphertext: stable, opaque, and never the plaintext.
    else value = `AQICAH${createHash('sha256').update(`${param.name}:${version.version}:${value}`).digest('base64')}`;
  }
  return {
    Name: param.name,
    Type: version.type,
    Value: value,
    Version: version.version,
    ...(selector ? { Selector: selector } : {}),
    LastModifiedDate: version.lastModifiedDate,
    ARN: arns.parameter(ctx.regional, param.name),
    DataType: param.dataType,
  };
}

const paramArns = (p: Params, ctx: CallContext) =>
  [...asList<string>(p.Names), ...(p.Name ? [p.Name] : [])].map((n) => (n.startsWith('arn:') ? n : arns.parameter(ctx.regional, n.replace(/:\d+$/, ''))));

/** Stores a parameter version; used by PutParameter and by the seed. */
export function putParameter(
  ctx: Pick<CallContext, 'regional' | 'clock'>,
  input: { Name: string; Value: string; Type?: SsmParameterVersion['type']; Overwrite?: boolean; KeyId?: string; Description?: string; DataType?: string },
): { Version: number; Tier: string } {
  const { Name: name, Value: value } = input;
  if (!name || !/^[\w.\-/]{1,2048}$/.test(name) || (name.includes('/') && !name.startsWith('/'))) {
    throw new AwsError(
      'ValidationException',
      'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of ' +
        'sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_',
    );
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length between 1 and 4096",
    );
  }
  const existing = ctx.regional.ssm.parameters.get(name);
  if (existing && !input.Overwrite) {
    throw new AwsError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
  }
  const previous = existing?.versions.at(-1);
  const type = input.Type ?? previous?.type;
  if (!type) throw new AwsError('ValidationException', 'A parameter type is required when you create a parameter.');
  const param = existing ?? { name, dataType: input.DataType ?? 'text', versions: [] };
  const version: SsmParameterVersion = {
    value,
    version: (previous?.version ?? 0) + 1,
    type,
    lastModifiedDate: ctx.clock.date(),
    ...(type === 'SecureString' ? { keyId: input.KeyId ?? previous?.keyId ?? DEFAULT_KEY } : {}),
    ...((input.Description ?? previous?.description) ? { description: input.Description ?? previous?.description } : {}),
  };
  param.versions.push(version);
  ctx.regional.ssm.parameters.set(name, param);
  return { Version: version.version, Tier: 'Standard' };
}

export const ssmService: ServiceDefinition = {
  name: 'ssm',
  protocol: 'json',
  target: 'AmazonSSM',
  actions: {
    GetParameter: {
      resources: paramArns,
      handler: (p, ctx) => {
        const found = lookup(ctx, String(p.Name ?? ''));
        if (!found) throw new AwsError('ParameterNotFound', '');
        return { Parameter: present(ctx, found, !!p.WithDecryption) };
      },
    },

    GetParameters: {
      resources: paramArns,
      handler: (p, ctx) => {
        const names = asList<string>(p.Names);
        if (names.length < 1 || names.length > 10) {
          throw new AwsError(
            'ValidationException',
            `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length ${names.length < 1 ? 'greater than or equal to 1' : 'less than or equal to 10'}`,
          );
        }
        const Parameters = [];
        const InvalidParameters: string[] = [];
        for (const name of new Set(names)) {
          const found = lookup(ctx, name);
          if (found) Parameters.push(present(ctx, found, !!p.WithDecryption));
          else InvalidParameters.push(name);
        }
        return { Parameters, InvalidParameters };
      },
    },

    // Metadata only (no values), including the KeyId of SecureStrings: what a decrypt check needs.
    DescribeParameters: (p, ctx) => {
      const filters = [
        ...asList<{ Key: string; Values?: unknown }>(p.Filters).map((f) => ({ Key: f.Key, Option: 'Equals', Values: asList<string>(f.Values) })),
        ...asList<{ Key: string; Option?: string; Values?: unknown }>(p.ParameterFilters).map((f) => ({
          Key: f.Key,
          Option: f.Option ?? (f.Key === 'Path' ? 'OneLevel' : 'Equals'),
          Values: asList<string>(f.Values),
        })),
      ];
      const matches = (param: SsmParameter) =>
        filters.every(({ Key, Option, Values }) => {
          const current = param.versions.at(-1)!;
          switch (Key) {
            case 'Name':
              return Values.some((v) =>
                Option === 'BeginsWith' ? param.name.startsWith(v) : Option === 'Contains' ? param.name.includes(v) : param.name === v,
              );
            case 'Path':
              return Values.some((v) => {
                const prefix = v.endsWith('/') ? v : `${v}/`;
                return param.name.startsWith(prefix) && (Option === 'Recursive' || !param.name.slice(prefix.length).includes('/'));
              });
            case 'Type':
              return Values.includes(current.type);
            case 'KeyId':
              return Values.includes(current.keyId ?? '');
            default:
              throw new AwsError(
                'InvalidFilterKey',
                `The following filter key is not valid: ${Key}. Valid filter keys include: [Path, Name, Type, KeyId, Tier].`,
              );
          }
        });
      const all = [...ctx.regional.ssm.parameters.values()].filter(matches).sort((a, b) => a.name.localeCompare(b.name));
      const max = p.MaxResults ?? 50;
      if (!Number.isInteger(max) || max < 1 || max > 50) {
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50",
        );
      }
      const offset = p.NextToken ? Number(Buffer.from(String(p.NextToken), 'base64').toString('utf8')) : 0;
      const more = offset + max < all.length;
      return {
        Parameters: all.slice(offset, offset + max).map((param) => {
          const v = param.versions.at(-1)!;
          return {
            Name: param.name,
            ARN: arns.parameter(ctx.regional, param.name),
            Type: v.type,
            ...(v.keyId ? { KeyId: v.keyId } : {}),
            LastModifiedDate: v.lastModifiedDate,
            ...(v.description ? { Description: v.description } : {}),
            Version: v.version,
            Tier: 'Standard',
            Policies: [],
            DataType: param.dataType,
          };
        }),
        ...(more ? { NextToken: Buffer.from(String(offset + max)).toString('base64') } : {}),
      };
    },

    // What an operator runs to end a webhook secret's rotation (README, "Rotating a webhook secret"); the bot never deletes.
    DeleteParameter: {
      resources: paramArns,
      handler: (p, ctx) => {
        const name = String(p.Name ?? '');
        if (!ctx.regional.ssm.parameters.delete(name)) throw new AwsError('ParameterNotFound', '');
        return {};
      },
    },

    PutParameter: {
      resources: paramArns,
      handler: (p, ctx) => {
        if (p.Type === 'SecureString' && typeof p.Name === 'string') {
          authorizeKeyUseVia(ctx, 'kms:Encrypt', 'ssm', p.KeyId ?? DEFAULT_KEY, { PARAMETER_ARN: arns.parameter(ctx.regional, p.Name) });
        }
        return putParameter(ctx, p as Parameters<typeof putParameter>[1]);
      },
    },
  },
};
