import { isPrincipalPattern } from '../../api/principal';
import { mayAdminister } from '../../auth/administration';
import { patternOf, patternUserId } from '../../auth/allowlist';
import { ALL, ROLES, type Grant, type Role } from '../../auth/roles';
import type { Config } from '../../config/schema';
import { escapeText } from '../../slack/format';
import { WEBHOOK_USER_PREFIX, webhookUserId } from '../../slack/invocation';
import { declaredLabels } from '../../fleet/memory-catalog';
import { formatSelector, isSelector, matchesLabels, parseSelector } from '../../fleet/selector';
import { parseChannelMention, parseUserMention, unknownChoice } from '../grammar';
import { defineVerb, expectCount, resolveScript, resolveTarget, usageError } from '../verb';
import type { AllowArgs, DenyArgs } from './args';

/** Bounds on one grant, so a typo or a paste cannot store thousands of entries. */
export const MAX_GRANT_SERVICES = 20;
export const MAX_GRANT_SCRIPTS = 20;
export const MAX_GRANT_CHANNELS = 10;

/** A system rather than a person: an IAM principal pattern or a ticket webhook source. */
const isSystem = (subject: string): boolean => patternOf(subject) !== undefined || subject.startsWith(WEBHOOK_USER_PREFIX);

/** Roles a system calling the signed API may hold: it cannot react in Slack, so never approve, and never administer. */
const PRINCIPAL_ROLES: readonly Role[] = ['viewer', 'operator', 'deployer'];

/**
 * Whom a grant is for: a person (`@user`), or the IAM principals an ARN pattern matches
 * (`arn:aws:iam::123456789012:role/ci-*`), callers of the signed API, kept as `iamp:<pattern>`.
 */
function parseSubject(verb: { name: string; usage: string }, word: string, config: Config): string {
  if (word.startsWith(WEBHOOK_USER_PREFIX)) {
    const source = word.slice(WEBHOOK_USER_PREFIX.length);
    if (!Object.hasOwn(config.webhooks, source))
      throw usageError(verb, `\`${escapeText(word)}\` is not a declared ticket webhook source (\`webhooks:\` in the configuration).`);
    return webhookUserId(source);
  }
  if (!word.startsWith('arn:')) return parseUserMention(word);
  if (!isPrincipalPattern(word))
    throw usageError(
      verb,
      `\`${escapeText(word)}\` is not an IAM user or role ARN pattern (\`arn:aws:iam::<account>:role/<name>\`, \`*\` allowed in the name).`,
    );
  return patternUserId(word);
}

/** `a,b,c` with a bound on its length. */
function listFlag(verb: { name: string; usage: string }, flag: string, value: string, max: number): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw usageError(verb, `\`--${flag}\` needs at least one name.`);
  if (items.length > max) throw usageError(verb, `\`--${flag}\` takes at most ${max} names (got ${items.length}).`);
  return items;
}

export const allowVerb = defineVerb<AllowArgs>({
  name: 'allow',
  summary: 'Give a person a role (admins, within their own scope)',
  usage: '/ecs allow @user|<IAM ARN pattern>|webhook:<source> <role> [service|selector …|*] [--scripts a,b] [--channels #c,#d]',
  details: [
    `Roles: ${ROLES.map((r) => `\`${r}\``).join(', ')}. viewer reads (status, verify); operator also runs scripts; deployer also deploys; approver approves deploys; admin does everything and manages the allowlist of its services.`,
    'Without services the grant covers every service. A selector instead of an alias (`/ecs allow @dana viewer env=staging`, `team=payments,env=prod|staging`) covers every service whose labels match it, now and later; an admin whose own grant is a selector may grant only selectors within it (`team=payments` → `team=payments,env=prod`, never `env=prod`). `--scripts` limits an operator grant to declared scripts of its services; `--channels` limits any grant to channels.',
    'Each grant is kept as given (grants are never merged). An admin can give only what lies within their own admin grants: those services, in those channels.',
    "A service discovered into the fleet's catalog can be granted by its alias, one per grant (`/ecs allow @bob viewer pay-api-123456789012`), if its labels lie within your admin grant.",
    '`/ecs deny @user` removes a person, if all of their grants lie within your scope.',
    'Systems calling the signed API are IAM principals: `/ecs allow arn:aws:iam::123456789012:role/ci-* operator manager --scripts backup.sh` (`*` matches any characters; a role session counts as its role). They may be viewer, operator or deployer; `/ecs deny <pattern>` removes the pattern.',
    'Ticket webhooks (`webhooks:` in the configuration) are `webhook:<source>`: `/ecs allow webhook:jira operator manager --scripts backup.sh`; the same three roles, `/ecs deny webhook:jira` removes it.',
  ],
  permission: 'admin',
  checks: 'itself',
  runsIn: 'worker',
  // A discovered service may be granted by its alias (one per grant: the ingress reads one from the catalog).
  onDiscovered: true,
  flags: { withValue: ['scripts', 'channels'], boolean: [] },
  parse(words, config, visible) {
    expectCount(this, words, 2, 2 + MAX_GRANT_SERVICES);
    const [user, roleWord, ...serviceWords] = words.positional as [string, string, ...string[]];
    const subject = parseSubject(this, user, config);
    if (subject === 'USLACKBOT') throw usageError(this, 'Slackbot cannot be given a role: roles are for people.');
    if (!(ROLES as readonly string[]).includes(roleWord)) throw unknownChoice('role', roleWord, ROLES);
    const role = roleWord as Role;
    if (isSystem(subject) && !PRINCIPAL_ROLES.includes(role))
      throw usageError(
        this,
        `IAM principals and ticket webhooks can be ${PRINCIPAL_ROLES.map((r) => `\`${r}\``).join(', ')}: approving and administering are for people in Slack.`,
      );
    // Aliases name services; selectors (`env=staging`, src/fleet/selector.ts) cover the services whose labels match.
    const selectors = [...new Set(serviceWords.filter((w) => w !== ALL && isSelector(w)).map((w) => formatSelector(parseSelector(w))))].sort();
    const aliases = serviceWords.filter((w) => w !== ALL && !isSelector(w));
    const services =
      serviceWords.length === 0 || serviceWords.includes(ALL) ? [ALL] : [...new Set(aliases.map((s) => resolveTarget(this, s, config, visible)))].sort();
    const grant: Grant = { role, services, ...(selectors.length && !services.includes(ALL) ? { selectors } : {}) };
    const scripts = words.flags.get('scripts');
    if (typeof scripts === 'string') {
      if (role !== 'operator')
        throw usageError(this, '`--scripts` limits an `operator` grant: other roles do not run scripts (admins run every script of their services).');
      const names = listFlag(this, 'scripts', scripts, MAX_GRANT_SCRIPTS);
      for (const name of names) {
        const script = resolveScript(name, config, visible);
        const scriptLabels = declaredLabels(config)(script.target);
        const bySelector = selectors.some((text) => scriptLabels !== undefined && matchesLabels(parseSelector(text), scriptLabels));
        if (!services.includes(ALL) && !services.includes(script.target) && !bySelector) {
          throw usageError(
            this,
            `Script \`${escapeText(name)}\` runs on \`${script.target}\`, which this grant does not cover: add \`${script.target}\` to its services.`,
          );
        }
      }
      grant.scripts = [...new Set(names)].sort();
    }
    const channels = words.flags.get('channels');
    if (typeof channels === 'string') grant.channels = [...new Set(listFlag(this, 'channels', channels, MAX_GRANT_CHANNELS).map(parseChannelMention))].sort();
    return { subject, grant };
  },
  scope: ({ subject, grant }) => ({ subject, grant }),
  authorise(entry, scope, channelId, labelsOf) {
    return scope.grant ? mayAdminister(entry, scope.grant, channelId, labelsOf) : { allowed: false, reason: 'the request names no grant' };
  },
  handler: () => import('../allow').then((m) => m.allow),
});

export const denyVerb = defineVerb<DenyArgs>({
  name: 'deny',
  summary: 'Remove a person from the allowlist (admins, if all of their grants lie within your scope)',
  usage: '/ecs deny @user|<IAM ARN pattern>|webhook:<source>',
  permission: 'admin',
  checks: 'itself',
  runsIn: 'worker',
  parse(words, config) {
    expectCount(this, words, 1, 1);
    return { subject: parseSubject(this, words.positional[0]!, config) };
  },
  scope: ({ subject }) => ({ subject }),
  handler: () => import('../deny').then((m) => m.deny),
});
