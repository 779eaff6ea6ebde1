import { planScale } from '../deploy/scale';
import { UserFacingError } from '../platform/errors';
import { anotherDeployUnderWay, requestChange } from './deploy';
import type { PrivateRefusal, WorkerHandler } from './verb';
import type { ScaleArgs } from './verbs/args';

/**
 * `/ecs scale <service> <count> [--adjust-autoscaling]`: planned here (counts, autoscaling range),
 * then the deploy workflow with a `scale` plan: approval by the target's deploy rules (unless its
 * `scale.requiresApproval` is false), UpdateService desiredCount (and RegisterScalableTarget first
 * when the range is widened), watched until the service runs that many tasks and is steady.
 */
export const scale: WorkerHandler<ScaleArgs> = (args, ctx) => {
  const target = ctx.target!;
  return requestChange(ctx, {
    action: 'scale',
    reading: `🔎 Planning: reading \`${target.service}\` in \`${target.cluster}\` (${target.region}) and its autoscaling range…`,
    plan: () => planScale(ctx.aws!, target, args),
    approval: target.scale?.requiresApproval ?? true,
  });
};

/**
 * Said privately, before anything is posted in the channel: another deploy or scale of the service
 * is under way, or the count cannot be set (outside the autoscaling range without
 * `--adjust-autoscaling`, already the desired count, a daemon service). What could not be read is
 * left to the thread, where the handler plans again and says why.
 */
export const scaleRefusal: PrivateRefusal<ScaleArgs> = async (args, ctx) => {
  const busy = await anotherDeployUnderWay(args, ctx);
  if (busy || !ctx.target || !ctx.aws) return busy;
  try {
    await planScale(ctx.aws, ctx.target, args);
    return undefined;
  } catch (error) {
    return error instanceof UserFacingError ? error.userMessage : undefined;
  }
};
