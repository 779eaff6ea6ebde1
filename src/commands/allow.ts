import { grantsWithinScope, mayAdminister } from '../auth/administration';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { labelsOfGranted } from '../fleet/grant-labels';
import { labelsWithDiscovered } from '../fleet/memory-catalog';
import { patternOf } from '../auth/allowlist';
import { addGrant, ALL, describeGrant, type Grant } from '../auth/roles';
import { lookup } from '../config/records';
import type { Config } from '../config/schema';
import type { LabelsOf } from '../fleet/types';
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

  const catalog = async () => ctx.catalog ?? (await fleetCatalog(ctx.config));
  const known = ctx.discovered ? [ctx.discovered] : [];
  const bound = bindToServices(ctx.config, grant, await labelsOfGranted(ctx.config, catalog, [grant], known), adminId);
  const existing = await allowlist.get(teamId, subject);
  const { grants, added } = addGrant(existing?.grants ?? [], bound);
  if (!added) {
    await out.post(`${mention(subject)} already has ${describeGrant(bound)}. Nothing changed.`);
    return { outcome: 'warning', summary: `${mention(subject)} already had ${describeGrant(bound)}` };
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
  const listed = await labelsOfGranted(ctx.config, catalog, grants, known);
  const visible = grantsWithinScope(admin, grants, channelId, listed);
  const beyond = grants.length - visible.length;
  await out.post(
    [
      `${mention(subject)} now has:`,
      ...visible.map((g) => `• ${describeGrant(g, listed)}`),
      ...(beyond ? [`• and ${beyond} grant${beyond === 1 ? '' : 's'} outside your scope`] : []),
    ].join('\n'),
  );
  return { outcome: 'success', summary: `granted ${describeGrant(bound)} to ${mention(subject)}` };
};

/**
 * The grant bound to the services its discovered aliases name now (`pins`, src/auth/roles.ts): the
 * catalog may later give an alias to another service, and the grant must not follow it there.
 * `grantedBy` lets this admin remove it once stale. Declared aliases and `*` are not bound: the
 * configuration says what they name.
 */
function bindToServices(config: Config, grant: Grant, current: LabelsOf, adminId: string): Grant {
  const { pins: _unbound, grantedBy: _nobody, ...given } = grant;
  if (grant.services.includes(ALL)) return given;
  const pins = grant.services
    .filter((alias) => lookup(config.targets, alias) === undefined)
    .flatMap((alias) => {
      const pin = current.pinOf?.(alias);
      return pin === undefined ? [] : [[alias, pin] as const];
    });
  return pins.length ? { ...given, pins: Object.fromEntries(pins), grantedBy: adminId } : given;
}

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
