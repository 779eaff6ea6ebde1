import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, IMAGE_OR_TAG, resolveTarget, usageError } from '../verb';
import type { VerifyArgs } from './args';

export const verifyVerb = defineVerb<VerifyArgs>({
  name: 'verify',
  summary: 'Check everything the service depends on: roles, images, logs, secrets, load balancers, cluster, ECS Exec, network',
  usage: '/ecs verify <service> [--image <tag|image>] [--put-logs]',
  details: [
    '`--image` checks what a deploy of that image (or tag) would leave behind, before anyone approves it.',
    '`--put-logs` proves logging works by writing one line to each log group (off by default).',
    'Permissions are checked as the role that uses them (IAM policy simulation), not as the bot.',
  ],
  permission: 'read',
  checks: 'target',
  runsIn: 'worker',
  flags: { withValue: ['image'], boolean: ['put-logs'] },
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    const target = resolveTarget(this, words.positional[0], config, visible);
    const image = words.flags.get('image');
    if (typeof image === 'string' && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
    const putLogs = words.flags.has('put-logs') || config.targets[target]!.verify.putLogs;
    return { target, ...(typeof image === 'string' ? { image } : {}), putLogs };
  },
  scope: onTarget,
  handler: () => import('../verify').then((m) => m.verify),
});
