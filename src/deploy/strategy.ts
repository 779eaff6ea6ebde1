/**
 * A service's deployment strategy in words, for the plan people approve ("canary 10% for 5 min,
 * then 100%; bake 15 min"), and the lifecycle stages where it pauses for people (PAUSE hooks).
 * Defaults are ECS's (API reference: LinearConfiguration, CanaryConfiguration).
 */
import type { DeploymentConfiguration } from '@aws-sdk/client-ecs';

/** Stages a PAUSE hook may hold (ECS refuses PAUSE at TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT). */
export const PAUSABLE_STAGES = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
  'POST_TEST_TRAFFIC_SHIFT',
  'PRE_PRODUCTION_TRAFFIC_SHIFT',
  'POST_PRODUCTION_TRAFFIC_SHIFT',
] as const;
export type PausableStage = (typeof PAUSABLE_STAGES)[number];

export const LINEAR_DEFAULTS = { stepPercent: 10, stepBakeTimeInMinutes: 6 };
const CANARY_DEFAULTS = { canaryPercent: 5, canaryBakeTimeInMinutes: 10 };

const minutes = (n: number) => `${n} min`;
const percent = (n: number) => `${Number(n.toFixed(1))}%`;

/** The stages where the service's deployments pause for a decision (its PAUSE lifecycle hooks). */
export function pauseStages(config: DeploymentConfiguration | undefined): string[] {
  return [...new Set((config?.lifecycleHooks ?? []).filter((h) => h.targetType === 'PAUSE').flatMap((h) => h.lifecycleStages ?? []))];
}

/** The strategy and its steps in one line (plain text). */
export function describeStrategy(config: DeploymentConfiguration | undefined): string {
  const strategy = config?.strategy ?? 'ROLLING';
  const bake = config?.bakeTimeInMinutes !== undefined ? `; bake ${minutes(config.bakeTimeInMinutes)}` : '';
  const pauses = pauseStages(config);
  const paused = pauses.length ? `; pauses for a decision at ${pauses.join(', ')}` : '';
  switch (strategy) {
    case 'BLUE_GREEN':
      return `blue/green: the new revision beside the old, then all production traffic at once${bake}${paused}`;
    case 'CANARY': {
      const c = { ...CANARY_DEFAULTS, ...config?.canaryConfiguration };
      return `canary ${percent(c.canaryPercent)} for ${minutes(c.canaryBakeTimeInMinutes)}, then 100%${bake}${paused}`;
    }
    case 'LINEAR': {
      const l = { ...LINEAR_DEFAULTS, ...config?.linearConfiguration };
      const steps = Math.ceil(100 / l.stepPercent);
      return `linear ${percent(l.stepPercent)} every ${minutes(l.stepBakeTimeInMinutes)} (${steps} steps)${bake}${paused}`;
    }
    default: {
      const { minimumHealthyPercent = 100, maximumPercent = 200 } = config ?? {};
      const breaker = config?.deploymentCircuitBreaker?.enable ? `, circuit breaker${config.deploymentCircuitBreaker.rollback ? ' with rollback' : ''}` : '';
      return `rolling update (at least ${minimumHealthyPercent}% healthy, at most ${maximumPercent}%${breaker})`;
    }
  }
}
