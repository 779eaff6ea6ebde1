import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, IMAGE_OR_TAG, resolveTarget, usageError } from '../verb';
import type { DeployArgs, RollbackArgs } from './args';

/** `42`, `web:42` or a task definition ARN. */
const REVISION = /^(\d{1,9}|[A-Za-z0-9_-]{1,255}:\d{1,9}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d{1,9})$/;
const APPROVAL_THEN_THREAD = 'the approval request will appear in this channel, progress in its thread';

export const deployVerb = defineVerb<DeployArgs>({
  name: 'deploy',
  summary: 'Deploy an image or tag to a service once another person approves it with a reaction; watched to the end, rolled back on failure',
  usage: '/ecs deploy <service> <tag|image> [--dry-run] | /ecs deploy <service> --redeploy [--dry-run]',
  details: [
    'The request shows what will change and who may approve; an approver reacts ✅ to approve or ❌ to reject (per-service settings may differ). You cannot approve your own request.',
    '`--redeploy` starts fresh tasks of the current task definition (new image pulls, new secrets).',
    'The request lists the whole change (per container: image, command, cpu/memory, ports, environment names, secrets, logs; the task’s roles and size), attaches the rest as a diff, and binds the approvals to it: if the service changes before the deploy starts, they are void.',
    '`--dry-run` shows the plan and the change and verifies the service as the deploy would leave it, without changing anything or asking anyone.',
    'One deploy per service at a time. A failed rollout is rolled back to the previous task definition.',
    'A service deployed by CodeDeploy (blue/green) deploys through its CodeDeploy deployment group: the request names the group and its deployment config, and CodeDeploy shifts the traffic and rolls back; a replacement whose tasks keep crashing is stopped and rolled back early, without waiting for a timeout.',
  ],
  permission: 'deploy',
  checks: 'target',
  runsIn: 'worker',
  answeredWhere: APPROVAL_THEN_THREAD,
  flags: { withValue: [], boolean: ['redeploy', 'dry-run'] },
  parse(words, config, visible) {
    const redeploy = words.flags.get('redeploy') === true;
    const dryRun = words.flags.get('dry-run') === true ? { dryRun: true as const } : {};
    expectCount(this, words, redeploy ? 0 : 1, redeploy ? 1 : 2);
    const [service, image] = words.positional;
    const target = resolveTarget(this, service, config, visible);
    if (!redeploy && !image) throw usageError(this, `Which image or tag? For example \`/ecs deploy ${target} v1.5.0\`.`);
    if (image && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
    return redeploy ? { target, action: 'redeploy', ...dryRun } : { target, action: 'deploy', image: image!, ...dryRun };
  },
  scope: onTarget,
  handler: () => import('../deploy').then((m) => m.deploy),
  privateRefusal: () => import('../deploy').then((m) => m.anotherDeployUnderWay),
});

export const rollbackVerb = defineVerb<RollbackArgs>({
  name: 'rollback',
  summary: 'Go back to the previous task definition revision (or a named one), once approved',
  usage: '/ecs rollback <service> [revision]',
  details: ['Without a revision: the newest active revision older than the running one. A revision is `42`, `web:42` or a task definition ARN.'],
  permission: 'deploy',
  checks: 'target',
  runsIn: 'worker',
  answeredWhere: APPROVAL_THEN_THREAD,
  parse(words, config, visible) {
    expectCount(this, words, 0, 2);
    const [service, revision] = words.positional;
    const target = resolveTarget(this, service, config, visible);
    if (revision && !REVISION.test(revision))
      throw usageError(this, `\`${escapeText(revision)}\` is not a revision: give \`42\`, \`family:42\` or a task definition ARN.`);
    return { target, ...(revision ? { revision } : {}) };
  },
  scope: onTarget,
  handler: () => import('../deploy').then((m) => m.rollback),
  privateRefusal: () => import('../deploy').then((m) => m.anotherDeployUnderWay),
});
