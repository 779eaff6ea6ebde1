import { SCALE_DEFAULTS } from '../../config/defaults';
import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, resolveTarget, usageError } from '../verb';
import type { ScaleArgs } from './args';

export const scaleVerb = defineVerb<ScaleArgs>({
  name: 'scale',
  summary: "Set a service's desired task count once approved (as deploys are); watched until it runs that many, steady",
  usage: '/ecs scale <service> <count> [--adjust-autoscaling]',
  details: [
    'Shows the desired and running counts and the Application Auto Scaling range (min..max) of the service. Only the desired count changes: no new deployment.',
    'A count outside the autoscaling range is refused (autoscaling would undo it); `--adjust-autoscaling` widens the range to include it first, and the old range is kept in the audit.',
    'Approved like a deploy of the service (reaction, never the requester) unless its configuration says `scale.requiresApproval: false`. One deploy or scale per service at a time.',
    `The count is a whole number from 0 to the service's \`scale.maxCount\` (default ${SCALE_DEFAULTS.maxCount}).`,
  ],
  permission: 'deploy',
  checks: 'target',
  runsIn: 'worker',
  answeredWhere: 'the approval request (if one is needed) will appear in this channel, progress in its thread',
  flags: { withValue: [], boolean: ['adjust-autoscaling'] },
  parse(words, config, visible) {
    expectCount(this, words, 1, 2);
    const [service, count] = words.positional;
    const target = resolveTarget(this, service, config, visible);
    const max = config.targets[target]?.scale?.maxCount ?? SCALE_DEFAULTS.maxCount;
    if (count === undefined) throw usageError(this, `How many tasks? For example \`/ecs scale ${target} 3\`.`);
    if (!/^\d{1,9}$/.test(count)) throw usageError(this, `\`${escapeText(count)}\` is not a task count: give a whole number from 0 to ${max}.`);
    const n = Number(count);
    if (n > max) throw usageError(this, `${n} tasks is more than \`${target}\` allows (at most ${max}, its \`scale.maxCount\`).`);
    return { target, count: n, adjustAutoscaling: words.flags.get('adjust-autoscaling') === true };
  },
  scope: onTarget,
  handler: () => import('../scale').then((m) => m.scale),
  privateRefusal: () => import('../scale').then((m) => m.scaleRefusal),
});
