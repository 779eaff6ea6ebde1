/**
 * Application Auto Scaling, the two calls `/ecs scale` makes, behind a small typed interface
 * (`AutoScalingApi`) so the scale logic is tested without AWS. The client is the AWS SDK's,
 * created through the job's AwsSession (the target's role, request ids for the audit, the limit on
 * requests in flight). Shapes and member names are the API's (PascalCase).
 */
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  type DescribeScalableTargetsCommandInput,
  RegisterScalableTargetCommand,
  type RegisterScalableTargetCommandInput,
} from '@aws-sdk/client-application-auto-scaling';
import type { AwsSession } from './session';

export interface SuspendedState {
  DynamicScalingInSuspended?: boolean;
  DynamicScalingOutSuspended?: boolean;
  ScheduledScalingSuspended?: boolean;
}

export interface ScalableTarget {
  ServiceNamespace: string;
  ResourceId: string;
  ScalableDimension: string;
  MinCapacity: number;
  MaxCapacity: number;
  RoleARN?: string;
  /** Epoch seconds on the wire. */
  CreationTime?: number;
  SuspendedState?: SuspendedState;
  ScalableTargetARN?: string;
}

export interface DescribeScalableTargetsInput {
  ServiceNamespace: string;
  ResourceIds?: string[];
  ScalableDimension?: string;
  MaxResults?: number;
  NextToken?: string;
}

export interface RegisterScalableTargetInput {
  ServiceNamespace: string;
  ResourceId: string;
  ScalableDimension: string;
  MinCapacity?: number;
  MaxCapacity?: number;
  RoleARN?: string;
  SuspendedState?: SuspendedState;
}

export interface AutoScalingApi {
  describeScalableTargets(input: DescribeScalableTargetsInput): Promise<{ ScalableTargets?: ScalableTarget[]; NextToken?: string }>;
  registerScalableTarget(input: RegisterScalableTargetInput): Promise<{ ScalableTargetARN?: string }>;
}

/** An ECS service's scalable target, by its identity triple. */
export const ecsScalableTarget = (cluster: string, service: string) =>
  ({ ServiceNamespace: 'ecs', ResourceId: `service/${cluster}/${service}`, ScalableDimension: 'ecs:service:DesiredCount' }) as const;

/** The service's scalable target, or undefined when it has none (not registered). */
export async function findScalableTarget(api: AutoScalingApi, cluster: string, service: string): Promise<ScalableTarget | undefined> {
  const id = ecsScalableTarget(cluster, service);
  const out = await api.describeScalableTargets({
    ServiceNamespace: id.ServiceNamespace,
    ResourceIds: [id.ResourceId],
    ScalableDimension: id.ScalableDimension,
  });
  return out.ScalableTargets?.find((t) => t.ResourceId === id.ResourceId);
}

/** Application Auto Scaling for one job: the SDK's client with the session's region, credentials, request-id record and in-flight limit. */
export function autoScalingClient(aws: AwsSession): AutoScalingApi {
  const client = aws.client(ApplicationAutoScalingClient, aws.target.region);
  return {
    async describeScalableTargets(input) {
      const out = await client.send(new DescribeScalableTargetsCommand(input as DescribeScalableTargetsCommandInput));
      return {
        ScalableTargets: (out.ScalableTargets ?? []).map((t) => ({
          ServiceNamespace: t.ServiceNamespace!,
          ResourceId: t.ResourceId!,
          ScalableDimension: t.ScalableDimension!,
          MinCapacity: t.MinCapacity!,
          MaxCapacity: t.MaxCapacity!,
          ...(t.RoleARN ? { RoleARN: t.RoleARN } : {}),
          ...(t.CreationTime ? { CreationTime: Math.floor(t.CreationTime.getTime() / 1000) } : {}),
          ...(t.SuspendedState ? { SuspendedState: t.SuspendedState } : {}),
          ...(t.ScalableTargetARN ? { ScalableTargetARN: t.ScalableTargetARN } : {}),
        })),
        ...(out.NextToken ? { NextToken: out.NextToken } : {}),
      };
    },
    async registerScalableTarget(input) {
      const out = await client.send(new RegisterScalableTargetCommand(input as RegisterScalableTargetCommandInput));
      return out.ScalableTargetARN ? { ScalableTargetARN: out.ScalableTargetARN } : {};
    },
  };
}
