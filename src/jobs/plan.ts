/**
 * A job's task as it will run (src/workflows/inputs.ts JobPlan): the RunTask request from its
 * target's service as it is now, with the task definition's revision pinned (what approvers see is
 * what starts, even if the service is deployed meanwhile), its container's log configuration and
 * the essential containers that decide the verdict.
 */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import { code, escapeText } from '../slack/format';
import type { JobPlan } from '../workflows/inputs';
import { essentialContainers, runTaskInput, type JobRequest } from './task';

export async function planJob(aws: AwsSession, target: Pick<Target, 'cluster' | 'service' | 'region'>, r: Omit<JobRequest, 'cluster'>): Promise<JobPlan> {
  const ecs = aws.ecs();
  const { services } = await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }));
  const service = services?.[0];
  if (!service) throw new UserFacingError(`Service \`${escapeText(target.service)}\` was not found in cluster \`${escapeText(target.cluster)}\`.`);
  const input = runTaskInput({ ...r, cluster: target.cluster }, service);
  const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: input.taskDefinition }));
  const container = taskDefinition?.containerDefinitions?.find((c) => c.name === r.job.container);
  if (!taskDefinition || !container) {
    throw new UserFacingError(
      `The task definition ${code(input.taskDefinition ?? '?')} has no container ${code(r.job.container)} (jobs.${escapeText(r.name)}.container).`,
    );
  }
  return {
    request: { ...input, taskDefinition: taskDefinition.taskDefinitionArn },
    container: { name: container.name, ...(container.logConfiguration ? { logConfiguration: container.logConfiguration } : {}) },
    essential: essentialContainers(taskDefinition),
    region: target.region,
  };
}
