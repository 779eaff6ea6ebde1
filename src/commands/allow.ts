import { grantsWithinScope, mayAdminister } from '../auth/administration';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { labelsOfGranted } from '../fleet/grant-labels';
import { labelsWithDiscovered } from '../fleet/memory-catalog';
import { patternOf } from '../auth/allowlist';
import { addGrant, describeGrant } from '../auth/roles';
import { PermissionDeniedError, UsageError } from '../platform/errors';
import { mention, WEBHOOK_USER_PREFIX } from '../slack/invocation';
import type { WorkerHandler } from './verb';
import type { AllowArgs } from './verbs/args';
import type { WorkerContext } from '../worker/context';

/** More grants than anyone needs; beyond it, a person's entry is a mistake or an attack. */
const MAX_GRANTS_PER_PERSON = 20;

/**
 * `/ecs allow @user <role> [services…] [--scripts a,b] [--channels #c]`: adds one grant, as given.
 * The ingress checked the grant against the admin's scope; this checks again with fresh data
 * (the admin may have lost her role since), then checks the person is a real member of the team.
 */
export const allow: WorkerHandler<AllowArgs> = async ({ subject, grant }, ctx) => {
  const { job, allowlist, out, now } = ctx;
  const { teamId, userId: adminId, channelId } = job.invocation;
  const admin = await allowlist.get(teamId, adminId);
  // A discovered service the grant names: as the worker read it again (one GetItem), by its labels.
  const labelsOf = labelsWithDiscovered(ctx.config, ctx.discovered);
  const decision = mayAdminister(admin, grant, channelId, labelsOf);
  if (!decision.allowed) throw new PermissionDeniedError(decision.reason);
  // A person must be one of this workspace; an ARN pattern names no one in Slack (parsed already).
  if (patternOf(subject) === undefined && !subject.startsWith(WEBHOOK_USER_PREFIX)) await requirePerson(ctx, subject);

  const existing = await allowlist.get(teamId, subject);
  const { grants, added } = addGrant(existing?.grants ?? [], grant);
  if (!added) {
    await out.post(`${mention(subject)} already has ${describeGrant(grant)}. Nothing changed.`);
    return { outcome: 'warning', summary: `${mention(subject)} already had ${describeGrant(grant)}` };
  }
  if (grants.length > MAX_GRANTS_PER_PERSON) {
    throw new UsageError(
      `${mention(subject)} already has ${existing!.grants.length} grants, the most one person may hold (${MAX_GRANTS_PER_PERSON}). Remove them with \`/ecs deny\` and grant what is needed.`,
    );
  }
  await allowlist.put(
    { teamId, userId: subject, grants, addedBy: adminId, updatedAt: new Date(now()).toISOString() },
    existing ? { updatedAt: existing.updatedAt } : null,
  );
  // The thread is public in the channel: show only what this admin administers. The person's other
  // grants may name discovered services too: their labels are read from the catalog (the one just
  // granted is not read again), so a selector admin sees those within her selector as hers.
  const listed = await labelsOfGranted(ctx.config, async () => ctx.catalog ?? (await fleetCatalog(ctx.config)), grants, ctx.discovered ? [ctx.discovered] : []);
  const visible = grantsWithinScope(admin, grants, channelId, listed);
  const beyond = grants.length - visible.length;
  await out.post(
    [
      `${mention(subject)} now has:`,
      ...visible.map((g) => `• ${describeGrant(g)}`),
      ...(beyond ? [`• and ${beyond} grant${beyond === 1 ? '' : 's'} outside your scope`] : []),
    ].join('\n'),
  );
  return { outcome: 'success', summary: `granted ${describeGrant(grant)} to ${mention(subject)}` };
};

/** A person of this workspace: not a bot, not the bot itself, not deactivated, not from another team. */
async function requirePerson(ctx: WorkerContext, userId: string): Promise<void> {
  let user: { is_bot?: boolean; deleted?: boolean; team_id?: string; is_app_user?: boolean } | undefined;
  try {
    user = (await ctx.slack.users.info({ user: userId })).user;
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code === 'user_not_found' || code === 'user_not_visible')
      throw new UsageError(`<@${userId}> is not a member of this workspace, so they cannot be given a role.`);
    throw error;
  }
  if (!user) throw new UsageError(`<@${userId}> is not a member of this workspace, so they cannot be given a role.`);
  if (user.is_bot || user.is_app_user) throw new UsageError(`<@${userId}> is a bot or an app: roles are for people, who are accountable for what they do.`);
  if (user.deleted) throw new UsageError(`<@${userId}> is deactivated, so they cannot be given a role.`);
  if (user.team_id && user.team_id !== ctx.job.invocation.teamId)
    throw new UsageError(`<@${userId}> belongs to another workspace; grant roles in the workspace they work in.`);
}
