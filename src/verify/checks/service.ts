import type { Service } from '@aws-sdk/client-ecs';
import { assessService } from '../../ecs/health';
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
      return ok(
        `service \`${name}\` is ${service.status} (${service.launchType ?? service.capacityProviderStrategy?.map((c) => c.capacityProvider).join('+') ?? 'EC2'})`,
      );
    },
    then: () => [healthCheck()],
  };
}

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

/** The shared health judgement (src/ecs/health.ts), plus what verify adds: the circuit breaker. */
function assessHealth(service: Service) {
  const { health, reason } = assessService(service);
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  const noBreaker = breaker?.enable ? '' : ' The deployment circuit breaker is off, so a failing deployment retries forever.';
  if (health === 'failing')
    return fail(
      `${reason}.${noBreaker}`,
      'See the stop reasons with `/ecs status`; the other checks here usually name the cause. Roll back with `/ecs rollback` if a deploy caused it.',
    );
  if (health === 'degraded')
    return warn(`${reason}.${noBreaker}`, 'A deployment is in progress or tasks are missing: check again when it settles (`/ecs status`).');
  if (!breaker?.enable)
    return warn(
      `${reason}.${noBreaker}`,
      'Enable it: `aws ecs update-service --deployment-configuration "deploymentCircuitBreaker={enable=true,rollback=true}" …`',
    );
  return ok(`${reason}; circuit breaker on`);
}
