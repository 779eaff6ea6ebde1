/**
 * Planning `/ecs scale`: the service's desired and running counts and its Application Auto
 * Scaling range, read once; a count outside the range is refused unless the range may be widened
 * (`--adjust-autoscaling`). Read-only: the deploy workflow makes the changes once approved.
 */
import { autoScalingClient, ecsScalableTarget, findScalableTarget, type AutoScalingApi } from '../aws/application-autoscaling';
import { explainAwsError } from '../aws/errors';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import { code } from '../slack/format';
import { describeActiveService, type PlannedDeploy } from './plan';
import type { ScaleBounds, ScalePlan } from './types';

export interface ScaleInput {
  count: number;
  adjustAutoscaling: boolean;
}

/** `2..6` */
export const range = (b: ScaleBounds) => `${b.min}..${b.max}`;

/** The range widened just enough to include `count`. */
export const widened = (b: ScaleBounds, count: number): ScaleBounds => ({ min: Math.min(b.min, count), max: Math.max(b.max, count) });

export const inside = (b: ScaleBounds | undefined, count: number) => !b || (count >= b.min && count <= b.max);

/** The service's autoscaling range, or undefined when it has no scalable target. */
export async function readBounds(api: AutoScalingApi, target: Pick<Target, 'cluster' | 'service'>): Promise<ScaleBounds | undefined> {
  const found = await findScalableTarget(api, target.cluster, target.service).catch((error) => {
    throw explainAwsError(error, `reading the autoscaling range of ${code(target.service)}`);
  });
  return found ? { min: found.MinCapacity, max: found.MaxCapacity } : undefined;
}

/** Why a count outside the range is refused, with what to do instead. */
export function outsideRange(alias: string, count: number, bounds: ScaleBounds): string {
  return `${count} is outside the autoscaling range of \`${alias}\` (min ${bounds.min}, max ${bounds.max}): Application Auto Scaling would move it back. Choose a count from ${bounds.min} to ${bounds.max}, or add \`--adjust-autoscaling\` to widen the range to ${range(widened(bounds, count))} as well. Nothing was changed.`;
}

export async function planScale(aws: AwsSession, target: { alias: string } & Target, input: ScaleInput): Promise<Omit<PlannedDeploy, 'from' | 'to'>> {
  const service = await describeActiveService(aws, target, 'to scale');
  if (service.schedulingStrategy === 'DAEMON')
    throw new UserFacingError(
      `\`${target.alias}\` uses the DAEMON scheduling strategy: it runs one task per container instance and has no desired count to set. Nothing was changed.`,
    );
  const bounds = await readBounds(autoScalingClient(aws), target);
  const from = service.desiredCount ?? 0;
  const running = service.runningCount ?? 0;
  if (!inside(bounds, input.count) && !input.adjustAutoscaling) throw new UserFacingError(outsideRange(target.alias, input.count, bounds!));
  if (input.count === from && inside(bounds, input.count))
    throw new UserFacingError(`\`${target.alias}\` already has a desired count of ${from} (${running} running). Nothing was changed.`);
  const adjust = bounds && !inside(bounds, input.count);
  const scale: ScalePlan = {
    desiredCount: input.count,
    fromDesiredCount: from,
    running,
    ...(bounds ? { bounds } : {}),
    ...(adjust ? { adjustAutoscaling: true } : {}),
  };
  const lines = [
    `desired count ${from} → ${input.count} (${running} running now)`,
    bounds
      ? adjust
        ? `autoscaling range ${range(bounds)} → ${range(widened(bounds, input.count))} (\`--adjust-autoscaling\`)`
        : `autoscaling range ${range(bounds)} (unchanged)`
      : 'no autoscaling range (the service has no scalable target)',
  ];
  const notes = [
    `📏 \`${target.alias}\`: ${lines.join('; ')}.`,
    ...(input.adjustAutoscaling && !adjust ? ['`--adjust-autoscaling` is not needed: the count is inside the range, which stays as it is.'] : []),
  ];
  return {
    service,
    plan: { action: 'scale', currentTaskDefinition: service.taskDefinition!, changes: [], imageNotes: lines, scale },
    notes,
  };
}

/** The range before and after `--adjust-autoscaling` (what the audit keeps); `to` absent: the service had no scalable target any more. */
export interface Adjusted {
  from?: ScaleBounds;
  to?: ScaleBounds;
}

/**
 * Widens the service's autoscaling range to include the planned count, from the range as it is
 * now (RegisterScalableTarget with Min and Max only: the rest of the target is unchanged). Run
 * again after it succeeded (a retried step), it finds the range already wide enough and reports
 * the planned range as the old one.
 */
export async function adjustRange(aws: AwsSession, where: Pick<Target, 'cluster' | 'service'>, plan: ScalePlan): Promise<Adjusted> {
  const api = autoScalingClient(aws);
  const now = await readBounds(api, where);
  if (!now) return {};
  if (inside(now, plan.desiredCount)) return { ...(plan.bounds ? { from: plan.bounds } : {}), to: now };
  const to = widened(now, plan.desiredCount);
  await api.registerScalableTarget({ ...ecsScalableTarget(where.cluster, where.service), MinCapacity: to.min, MaxCapacity: to.max });
  return { from: now, to };
}
