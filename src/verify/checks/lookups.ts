/**
 * AWS lookups that more than one check family makes (a log group is often both a container's
 * awslogs group and the ECS Exec session log group; the cluster's exec key is a KMS key like the
 * secrets' keys), each memoized on the run so a shared resource costs one call.
 */
import { CloudWatchLogsClient, DescribeLogGroupsCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import type { ExecuteCommandConfiguration } from '@aws-sdk/client-ecs';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient, type KeyMetadata } from '@aws-sdk/client-kms';
import type { VerifyContext } from '../context';

interface LogGroupLookup {
  group?: LogGroup;
  /** Groups whose names start with the wanted one (`/ecs/broken-v1` for `/ecs/broken`): likely mix-ups. */
  similar: string[];
}

/**
 * The group by exact name. A prefix search (not logGroupIdentifiers) also shows look-alikes; the
 * exact name sorts before every longer name it prefixes, so the first page always holds it.
 */
export function logGroupLookup(ctx: VerifyContext, region: string, name: string): Promise<LogGroupLookup> {
  return ctx.once(`logs:describe:${region}:${name}`, async () => {
    const out = await ctx.aws.client(CloudWatchLogsClient, region).send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, limit: 50 }));
    const groups = out.logGroups ?? [];
    const group = groups.find((g) => g.logGroupName === name);
    return {
      ...(group ? { group } : {}),
      similar: groups
        .filter((g) => g !== group)
        .map((g) => g.logGroupName!)
        .slice(0, 3),
    };
  });
}

export function describeKey(ctx: VerifyContext, region: string, keyRef: string): Promise<KeyMetadata> {
  return ctx.once(`secrets:kms-key:${region}:${keyRef}`, async () => {
    const out = await ctx.aws.client(KMSClient, region).send(new DescribeKeyCommand({ KeyId: keyRef }));
    if (!out.KeyMetadata) throw new Error(`KMS returned no metadata for ${keyRef}`);
    return out.KeyMetadata;
  });
}

export function keyPolicy(ctx: VerifyContext, region: string, keyArn: string): Promise<string> {
  return ctx.once(`secrets:kms-policy:${keyArn}`, async () => {
    const out = await ctx.aws.client(KMSClient, region).send(new GetKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default' }));
    return out.Policy ?? '{}';
  });
}

/** The cluster's ECS Exec settings (logging DEFAULT when unset, as ECS does). */
export async function execConfiguration(ctx: VerifyContext): Promise<ExecuteCommandConfiguration> {
  return (await ctx.cluster())?.configuration?.executeCommandConfiguration ?? {};
}
