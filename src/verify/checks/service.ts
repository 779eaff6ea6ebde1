import type { Service } from '@aws-sdk/client-ecs';
import { assessService } from '../../ecs/health';
import { describeStrategy, pauseStages } from '../../deploy/strategy';
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
    // Deploy gates only where they mean something: a strategy other than rolling, or gates configured.
    then: async (ctx) => {
      const service = await ctx.service();
      const strategy = service?.deploymentConfiguration?.strategy ?? 'ROLLING';
      return [healthCheck(), ...(service && (strategy !== 'ROLLING' || ctx.target.deploy.gates.length) ? [gatesCheck()] : [])];
    },
  };
}

/**
 * `targets.<alias>.deploy.gates`: the lifecycle stages where a deploy waits for people's approval
 * by reaction. ECS only pauses where the service's deployment configuration has a PAUSE hook, and
 * only with the BLUE_GREEN, LINEAR or CANARY strategy: each gate needs its hook.
 */
function gatesCheck(): CheckSpec {
  return {
    id: 'service:gates',
    family: 'service',
    title: 'Deploy gates',
    group: ['Service'],
    async run(ctx) {
      const config = (await ctx.service())!.deploymentConfiguration;
      const strategy = config?.strategy ?? 'ROLLING';
      const gates = ctx.target.deploy.gates;
      const paused = new Set(pauseStages(config));
      const how = describeStrategy(config);
      if (!gates.length) return ok(`deploys by ${how}; no stage waits for people (\`targets.${ctx.alias}.deploy.gates\`)`);
      const stages = gates.join(', ');
      if (strategy === 'ROLLING')
        return fail(
          `\`targets.${ctx.alias}.deploy.gates\` asks for a decision at ${stages}, but the service deploys by rolling update, which has no lifecycle stages to pause at`,
          'Switch the service to the BLUE_GREEN, LINEAR or CANARY strategy with a PAUSE hook at those stages (see the hook fix below), or remove the gates.',
        );
      const missing = gates.filter((g) => !paused.has(g));
      if (missing.length) {
        const hooks = [...(config?.lifecycleHooks ?? []), { targetType: 'PAUSE', lifecycleStages: missing }];
        return fail(
          `deploys by ${how}, but nothing pauses at ${missing.join(', ')}: ECS would go on without the people \`targets.${ctx.alias}.deploy.gates\` asks for`,
          `Add a PAUSE hook: \`aws ecs update-service --cluster ${ctx.target.cluster} --service ${ctx.target.service} --deployment-configuration '${JSON.stringify({ ...config, lifecycleHooks: hooks })}'\``,
        );
      }
      return ok(`deploys by ${how}; waits for an approval by reaction at ${stages}`);
    },
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
  // The circuit breaker is ECS's (deployment controller ECS); CodeDeploy rolls back with its own settings.
  const controller = service.deploymentController?.type ?? 'ECS';
  const noBreaker = breaker?.enable || controller !== 'ECS' ? '' : ' The deployment circuit breaker is off, so a failing deployment retries forever.';
  if (health === 'failing')
    return fail(
      `${reason}.${noBreaker}`,
      'See the stop reasons with `/ecs status`; the other checks here usually name the cause. Roll back with `/ecs rollback` if a deploy caused it.',
    );
  if (health === 'degraded')
    return warn(`${reason}.${noBreaker}`, 'A deployment is in progress or tasks are missing: check again when it settles (`/ecs status`).');
  if (controller !== 'ECS')
    return ok(`${reason}; deployed by ${controller === 'CODE_DEPLOY' ? 'CodeDeploy' : 'an external controller'} (ECS's circuit breaker does not apply)`);
  if (!breaker?.enable)
    return warn(
      `${reason}.${noBreaker}`,
      'Enable it: `aws ecs update-service --deployment-configuration "deploymentCircuitBreaker={enable=true,rollback=true}" …`',
    );
  return ok(`${reason}; circuit breaker on`);
}
