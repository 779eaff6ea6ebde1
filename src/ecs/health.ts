import type { Service } from '@aws-sdk/client-ecs';

export type Health = 'healthy' | 'degraded' | 'failing';

export interface HealthAssessment {
  health: Health;
  /** Plain words: "1/2 running, 0 pending; the latest deployment (broken:7) has 4 failed tasks and none running". */
  reason: string;
}

/**
 * How an operator would judge a service at a glance, shared by `/ecs status` and `/ecs verify`:
 * failing when the latest deployment FAILED, nothing runs, or the latest deployment cannot start
 * a single task; degraded while a deployment is under way or tasks are missing; else healthy.
 */
export function assessService(service: Service): HealthAssessment {
  const desired = service.desiredCount ?? 0;
  const running = service.runningCount ?? 0;
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
  const counts = `${running}/${desired} running, ${service.pendingCount ?? 0} pending`;
  const revision = primary?.taskDefinition?.split('/').pop();
  if (primary?.rolloutState === 'FAILED') {
    return { health: 'failing', reason: `${counts}; the latest deployment (${revision}) FAILED: ${primary.rolloutStateReason ?? 'no reason given'}` };
  }
  if (desired > 0 && running === 0) {
    return {
      health: 'failing',
      reason: `${counts}: no task is running${primary?.failedTasks ? `; ${primary.failedTasks} tasks of the latest deployment failed` : ''}`,
    };
  }
  if (primary && (primary.failedTasks ?? 0) > 0 && (primary.runningCount ?? 0) === 0 && (primary.desiredCount ?? 0) > 0) {
    return { health: 'failing', reason: `${counts}; the latest deployment (${revision}) has ${primary.failedTasks} failed tasks and none running` };
  }
  const deployments = service.deployments?.length ?? 0;
  if (running < desired || deployments > 1 || (primary?.rolloutState && primary.rolloutState !== 'COMPLETED')) {
    return { health: 'degraded', reason: `${counts}; ${deployments} deployment${deployments === 1 ? '' : 's'}, rollout ${primary?.rolloutState ?? 'unknown'}` };
  }
  return { health: 'healthy', reason: `${counts}, steady` };
}
