import type { Service } from '@aws-sdk/client-ecs';
import type { CheckSpec } from '../types';
import { fail, ok, warn } from '../types';

/** The service exists and is ACTIVE; its health is a check of its own. */
export function serviceCheck(): CheckSpec {
  return {
    id: 'service',
    family: 'service',
    title: 'Service',
    group: ['Service'],
    async run(ctx) {
      const service = await ctx.service();
      const { service: name, cluster } = ctx.target;
      if (!service) return fail(`service \`${name}\` was not found in cluster \`${cluster}\``, `Check \`targets.${ctx.alias}.service\` in the configuration.`);
      return ok(`service \`${name}\` is ${service.status} (${service.launchType ?? service.capacityProviderStrategy?.map((c) => c.capacityProvider).join('+') ?? 'EC2'})`);
    },
    then: () => [healthCheck()],
  };
}

const STOP_WINDOW_MS = 60 * 60_000;

function healthCheck(): CheckSpec {
  return {
    id: 'service:health',
    family: 'service',
    title: 'Service health',
    group: ['Service'],
    async run(ctx) {
      const service = (await ctx.service())!;
      return assessHealth(service);
    },
  };
}

/** Running vs desired, rollout state, circuit breaker: what an operator looks at first. */
export function assessHealth(service: Service) {
  const desired = service.desiredCount ?? 0;
  const running = service.runningCount ?? 0;
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  const counts = `${running}/${desired} running, ${service.pendingCount ?? 0} pending`;
  const noBreaker = breaker?.enable ? '' : ' The deployment circuit breaker is off, so a failing deployment retries forever.';
  if (primary?.rolloutState === 'FAILED') {
    return fail(`${counts}; the latest deployment FAILED: ${primary.rolloutStateReason ?? 'no reason given'}`, 'Roll back (`/ecs rollback`) or fix the cause shown by the stopped tasks (`/ecs status`).');
  }
  if (desired > 0 && running === 0) {
    return fail(`${counts}: no task is running${primary?.failedTasks ? `; ${primary.failedTasks} tasks of the latest deployment failed` : ''}.${noBreaker}`, 'See the stop reasons with `/ecs status`; the other checks here usually name the cause.');
  }
  if (primary?.failedTasks && primary.runningCount === 0 && primary.rolloutState === 'IN_PROGRESS') {
    return fail(`${counts}; the latest deployment (${primary.taskDefinition?.split('/').pop()}) has ${primary.failedTasks} failed tasks and none running.${noBreaker}`, 'See the stop reasons with `/ecs status`; the other checks here usually name the cause.');
  }
  if (running < desired || (service.deployments?.length ?? 0) > 1) {
    return warn(`${counts}; ${service.deployments?.length ?? 0} deployments (rollout ${primary?.rolloutState ?? 'unknown'})`, 'A deployment is in progress: check again when it completes.');
  }
  if (!breaker?.enable) return warn(`${counts}, steady.${noBreaker}`, 'Enable it: `aws ecs update-service --deployment-configuration "deploymentCircuitBreaker={enable=true,rollback=true}" …`');
  return ok(`${counts}, steady; circuit breaker on`);
}

export { STOP_WINDOW_MS };
