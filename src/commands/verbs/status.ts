import { defineVerb, expectCount, onTarget, resolveTarget } from '../verb';
import type { StatusArgs } from './args';

export const statusVerb = defineVerb<StatusArgs>({
  name: 'status',
  summary: 'Show a service: counts, task definition, images, deployments, events, stopped tasks',
  usage: '/ecs status <service>',
  permission: 'read',
  checks: 'target',
  runsIn: 'worker',
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    return { target: resolveTarget(this, words.positional[0], config, visible) };
  },
  scope: onTarget,
  handler: () => import('../status').then((m) => m.status),
});
