import * as z from 'zod/mini';
import { ALIAS_PLACEHOLDERS, DEFAULT_ALIAS_TAG } from '../fleet/names';

/**
 * `fleet:` of the configuration (issue 19): where services are discovered (accounts from AWS
 * Organizations or a list, regions, the role assumed in each), how a discovered service gets its
 * alias, and how large a selection may be. Without this section nothing is discovered: the catalog
 * holds the hand-declared targets only.
 */

const pattern = (re: RegExp, message: string) => z.string().check(z.regex(re, message));
const accountId = pattern(/^\d{12}$/, 'must be a 12-digit AWS account id');
const region = pattern(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1');
const ou = pattern(/^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/, 'must be an organizational unit id (ou-…); for the whole organization, name none');
const tagKey = z.string().check(z.minLength(1), z.maxLength(128));
const tagValue = z.string().check(z.maxLength(256));

export const FLEET_DEFAULTS = {
  organizations: false,
  roleName: 'ecs-chatops-target',
  aliasTag: DEFAULT_ALIAS_TAG,
  refreshSchedule: 'rate(6 hours)',
};

export const fleetSchema = z.optional(
  z
    .strictObject({
      /**
       * Read the accounts from AWS Organizations (ListAccounts; the bot's account must be the
       * management account or a delegated administrator). false: `accounts` lists them.
       */
      organizations: z._default(z.boolean(), FLEET_DEFAULTS.organizations),
      /** With organizations: only accounts directly in these OUs. */
      organizationalUnits: z._default(z.array(ou).check(z.maxLength(50)), []),
      /** With organizations: only accounts carrying all these tags (key: value). */
      accountTags: z._default(z.record(tagKey, tagValue), {}),
      /** Without organizations: the accounts to look in. With it: ignored. */
      accounts: z._default(z.array(accountId).check(z.maxLength(2000)), []),
      /** Accounts never looked in (the bot's own, a sandbox). */
      excludeAccounts: z._default(z.array(accountId).check(z.maxLength(2000)), []),
      regions: z.array(region).check(z.minLength(1, 'name at least one region'), z.maxLength(30)),
      /** The role of infra/cross-account-role.yaml in each account (its RoleName parameter). */
      roleName: z._default(
        pattern(/^ecs-chatops-target[\w+=,.@-]{0,46}$/, 'must start with ecs-chatops-target (the bot may assume only roles named so)'),
        FLEET_DEFAULTS.roleName,
      ),
      /** The service tag whose value is the alias. */
      aliasTag: z._default(tagKey, FLEET_DEFAULTS.aliasTag),
      /**
       * The alias of a service without that tag: placeholders `{service}`, `{cluster}`, `{account}`
       * (the account's name, its id without one: not stable, names repeat and can be renamed),
       * `{accountId}`, `{region}`; lowercased, other characters made dashes; longer than 40, the
       * service's name cut and a short hash of the whole added (discovery.ts).
       * Absent: `{service}-{accountId}`, with `{region}` added when several regions are configured
       * (names.ts aliasTemplateFor), so the rule is stable and unique in the configured scope but
       * for one name in two clusters of one account and region (reported by a refresh, with the
       * tag to set).
       */
      aliasTemplate: z.optional(
        z.string().check(
          z.minLength(1),
          z.maxLength(100),
          z.refine(
            (t) => [...t.matchAll(/\{(\w+)\}/g)].every((m) => (ALIAS_PLACEHOLDERS as readonly string[]).includes(m[1]!)),
            `use only the placeholders ${ALIAS_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
          ),
          z.refine((t) => t.includes('{service}'), 'must contain {service}'),
        ),
      ),
      /** Where the scheduled refresh says what changed (a channel id); without it, the catalog is refreshed on demand only. */
      refreshChannel: z.optional(pattern(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD (channel details → About)')),
      /** How often the catalog is refreshed with refreshChannel set (EventBridge Scheduler's `rate(…)` or `cron(…)`, UTC). */
      refreshSchedule: z._default(z.string().check(z.regex(/^(rate|cron)\(.+\)$/, 'must be rate(…) or cron(…)')), FLEET_DEFAULTS.refreshSchedule),
    })
    .check(
      z.refine((f) => f.organizations || f.accounts.length > 0, {
        message: 'set organizations: true, or list the accounts to look in',
        path: ['accounts'],
      }),
      // A rule without {region} names a service alike in each region of an account: one of them would be left out.
      z.refine((f) => f.aliasTemplate === undefined || f.regions.length < 2 || f.aliasTemplate.includes('{region}'), {
        message: 'must contain {region} when several regions are configured (a service of the same name in two regions would get one alias)',
        path: ['aliasTemplate'],
      }),
    ),
);

export type FleetConfig = NonNullable<z.infer<typeof fleetSchema>>;
