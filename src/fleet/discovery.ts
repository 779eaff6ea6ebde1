/**
 * Fleet discovery (issue 19): the accounts (AWS Organizations or a configured list), in each the
 * configured role, in each region its clusters and their services with tags. A service's alias
 * comes from its alias tag or the configured naming rule; its other tags become labels.
 * Organizations accounts are looked in only when their `State` is ACTIVE (`Status`, retired by
 * AWS on 2026-09-09, is read only when `State` is absent); the others are listed as inactive.
 *
 * Discovery does not settle who gets an alias two services claim: the refresh does, knowing who
 * held it in the catalog (src/fleet/refresh.ts, settleAliases).
 *
 * At fleet scale AWS throttles per account and region: each account has at most
 * MAX_IN_FLIGHT_PER_ACCOUNT calls in flight, and a throttled call waits and is tried again
 * (exponential backoff with jitter) rather than failing the run. An account whose role cannot be
 * assumed, or that refuses a call, is a result with its fix; the others carry on.
 */
import { createHash } from 'node:crypto';
import { Limiter } from '../aws/session';
import type { FleetConfig } from '../config/fleet-schema';
import { credentialsFix, isCredentialsProblem } from './fanout';
import { aliasTemplateFor, type ALIAS_PLACEHOLDERS } from './names';
import { BUILT_IN_LABELS, type FleetService } from './types';

const BUILT_IN = new Set<string>(BUILT_IN_LABELS);

/** AWS's per-account limits are per region too; five at once keeps a fleet run well under ECS's describe rates. */
export const MAX_IN_FLIGHT_PER_ACCOUNT = 5;
/** Accounts looked into at once (each with its own bound): the bot's own STS calls stay reasonable. */
export const ACCOUNTS_AT_ONCE = 40;

export interface FleetAccount {
  id: string;
  name?: string;
}

/** An account of the organization as Organizations lists it: its lifecycle state (`State`, else the retired `Status`), its tags when asked. */
export interface OrganizationAccount extends FleetAccount {
  /** ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION; absent when Organizations said neither. */
  state?: string;
  tags?: Record<string, string>;
}

/** An account of the organization that is not ACTIVE: not looked in, and its services leave the catalog. */
export interface InactiveAccount {
  accountId: string;
  accountName?: string;
  /** As Organizations gave it, `unknown` when it gave none. */
  state: string;
}

export interface ClusterServices {
  serviceArns: string[];
  nextToken?: string;
}

/** What discovery reads of ECS in one account and region (the assumed role's session). */
export interface EcsReader {
  listClusters(nextToken?: string): Promise<{ clusterArns: string[]; nextToken?: string }>;
  listServices(cluster: string, nextToken?: string): Promise<ClusterServices>;
  /** At most 10 ARNs (ECS's limit), with their tags. */
  describeServices(
    cluster: string,
    serviceArns: string[],
  ): Promise<Array<{ serviceArn: string; serviceName: string; status?: string; tags: Array<{ key?: string; value?: string }> }>>;
}

/** The AWS side of discovery (src/fleet/aws.ts in production). */
export interface FleetAws {
  /** Accounts of the organization, optionally only those directly in these OUs, with their tags when asked. */
  organizationAccounts(filter: { organizationalUnits: readonly string[]; withTags: boolean }): Promise<OrganizationAccount[]>;
  /** Assumes `roleArn` (throws RoleUnavailableError when it cannot be) and returns ECS readers by region. */
  assume(accountId: string, roleArn: string): Promise<(region: string) => EcsReader>;
  /** ECS readers of the bot's own account, with its own role (as targets declared without a roleArn). */
  own(): (region: string) => EcsReader;
}

/** The role of an account cannot be assumed (missing, or not trusting the bot): one result with its fix. */
export class RoleUnavailableError extends Error {
  override name = 'RoleUnavailableError';
  constructor(
    readonly roleArn: string,
    override readonly cause: unknown,
  ) {
    super(`cannot assume ${roleArn}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface AccountFailure {
  accountId: string;
  accountName?: string;
  /** Absent: the whole account (its role); set: one region of it. */
  region?: string;
  reason: 'role' | 'access' | 'error';
  message: string;
  /** What to do about it, in words. */
  fix: string;
}

export interface SkippedService {
  serviceArn: string;
  reason: string;
}

export interface DiscoveryResult {
  /**
   * Every service found with a valid alias, sorted by alias then ARN. Two may claim one alias:
   * the refresh settles it (settleAliases in refresh.ts), knowing who held it before.
   */
  services: FleetService[];
  failures: AccountFailure[];
  skipped: SkippedService[];
  /** Accounts looked in. */
  accounts: number;
  /** Organization accounts (in scope) that are not ACTIVE, by id: not looked in. */
  inactive: InactiveAccount[];
}

export interface DiscoveryOptions {
  /** The bot's own account: read with the bot's role, no role assumed (its services have no roleArn). */
  botAccountId?: string;
  sleep?: (ms: number) => Promise<void>;
  /** Throttled calls are tried this many times in all (default 10). */
  attempts?: number;
}

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'ThrottledException', 'SlowDown']);
export const isThrottling = (error: unknown): boolean => THROTTLING.has((error as { name?: string })?.name ?? '');

/** Runs `call`, waiting and trying again while AWS throttles it (full jitter, 100 ms doubling, 5 s cap). */
export async function withBackoff<T>(call: () => Promise<T>, options: DiscoveryOptions = {}): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const attempts = options.attempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || attempt >= attempts) throw error;
      await sleep(Math.random() * Math.min(5_000, 100 * 2 ** attempt));
    }
  }
}

const ALIAS = /^[a-z][a-z0-9-]{0,39}$/;

const ALIAS_MAX = 40;
/** Characters of a long alias's hash: 16 bits keep two long service names of one account and region that share their beginning apart. */
const HASH_CHARS = 4;

/** Lowercased, other characters dashes, no dash doubled or at the end, starting with a letter. */
const normalizeAlias = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');

/**
 * The alias the naming rule gives a service: placeholders filled, lowercased, other characters
 * dashes. One longer than 40 has its service's name cut, followed by a dash and 4 hex digits of a
 * hash of the whole, the rest of the rule (account id, region…) kept whole: the same long service
 * name in 200 accounts gets 200 aliases by construction, not by luck of a 16-bit hash, and two
 * long names sharing their beginning in one account and region stay apart by the hash. When the
 * rest alone leaves no room, the whole is cut to 35 characters and the hash. Either way the alias
 * stays the same from one refresh to the next.
 */
export function aliasFromTemplate(template: string, values: Record<(typeof ALIAS_PLACEHOLDERS)[number], string>): string {
  const fill = (service: string) =>
    normalizeAlias(template.replace(/\{(\w+)\}/g, (_, key: string) => (key === 'service' ? service : (values[key as keyof typeof values] ?? ''))));
  const alias = fill(values.service);
  if (alias.length <= ALIAS_MAX) return alias;
  const hash = createHash('sha256').update(alias).digest('hex').slice(0, HASH_CHARS);
  for (let keep = values.service.length - 1; keep > 0; keep--) {
    const shortened = fill(`${values.service.slice(0, keep)}-${hash}`);
    if (shortened.length <= ALIAS_MAX && shortened.includes(hash)) return shortened;
  }
  return `${alias.slice(0, ALIAS_MAX - HASH_CHARS - 1).replace(/-+$/, '')}-${hash}`;
}

/** Tags that are labels: not the alias tag, not AWS's or the bot's own (`aws:`, `ecs-chatops:`). */
function labelsOf(tags: Array<{ key?: string; value?: string }>, aliasTag: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const { key, value } of tags) {
    // Built-in labels (account, region, cluster) say where a service lives; a tag cannot override them. Empty values select nothing.
    if (!key || !value || key === aliasTag || key.startsWith('aws:') || key.startsWith('ecs-chatops:') || BUILT_IN.has(key)) continue;
    labels[key] = value;
  }
  return labels;
}

const nameOf = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/**
 * The accounts to look in: from Organizations (filtered by OU and account tags) or the configured
 * list, less the excluded; and the organization's accounts in scope that are not ACTIVE (a
 * suspended or closed account's role cannot be assumed: it is not "deploy the target role").
 * A configured list has no state: its accounts are looked in.
 */
async function accountsToScan(config: FleetConfig, aws: FleetAws, options: DiscoveryOptions): Promise<{ scan: FleetAccount[]; inactive: InactiveAccount[] }> {
  const excluded = new Set(config.excludeAccounts);
  if (!config.organizations) return { scan: config.accounts.filter((id) => !excluded.has(id)).map((id) => ({ id })), inactive: [] };
  const tagFilter = Object.entries(config.accountTags);
  const listed = await withBackoff(
    () => aws.organizationAccounts({ organizationalUnits: config.organizationalUnits, withTags: tagFilter.length > 0 }),
    options,
  );
  const inScope = listed.filter((a) => !excluded.has(a.id) && tagFilter.every(([key, value]) => a.tags?.[key] === value));
  const account = (a: OrganizationAccount): FleetAccount => ({ id: a.id, ...(a.name ? { name: a.name } : {}) });
  return {
    scan: inScope.filter((a) => a.state === 'ACTIVE').map(account),
    inactive: inScope
      .filter((a) => a.state !== 'ACTIVE')
      .map((a) => ({ accountId: a.id, ...(a.name ? { accountName: a.name } : {}), state: a.state ?? 'unknown' }))
      .sort((a, b) => a.accountId.localeCompare(b.accountId)),
  };
}

/** Discovers every service of the fleet; never throws for one account's trouble. */
export async function discoverFleet(config: FleetConfig, aws: FleetAws, options: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const { scan: accounts, inactive } = await accountsToScan(config, aws, options);
  const aliasTemplate = aliasTemplateFor(config);
  const found: FleetService[] = [];
  const failures: AccountFailure[] = [];
  const skipped: SkippedService[] = [];
  const accountsAtOnce = new Limiter(ACCOUNTS_AT_ONCE);

  await Promise.all(
    accounts.map((account) =>
      accountsAtOnce.run(async () => {
        const own = account.id === options.botAccountId;
        const roleArn = own ? undefined : `arn:aws:iam::${account.id}:role/${config.roleName}`;
        let readers: (region: string) => EcsReader;
        try {
          readers = roleArn ? await withBackoff(() => aws.assume(account.id, roleArn), options) : aws.own();
        } catch (error) {
          failures.push(accountFailure(account, undefined, error, roleArn));
          return;
        }
        const inFlight = new Limiter(MAX_IN_FLIGHT_PER_ACCOUNT);
        const call = <T>(work: () => Promise<T>) => withBackoff(() => inFlight.run(work), options);
        await Promise.all(
          config.regions.map(async (region) => {
            try {
              const services = await discoverRegion(readers(region), call);
              for (const s of services) {
                const tagged = s.tags.find((t) => t.key === config.aliasTag)?.value;
                const alias =
                  tagged ??
                  aliasFromTemplate(aliasTemplate, {
                    service: s.serviceName,
                    cluster: s.cluster,
                    account: account.name ?? account.id,
                    accountId: account.id,
                    region,
                  });
                if (!ALIAS.test(alias)) {
                  skipped.push({
                    serviceArn: s.serviceArn,
                    reason: tagged
                      ? `its ${config.aliasTag} tag \`${tagged}\` is not an alias (lowercase letters, digits and dashes, starting with a letter, at most 40)`
                      : `the naming rule gives \`${alias}\`, not an alias`,
                  });
                  continue;
                }
                found.push({
                  alias,
                  accountId: account.id,
                  region,
                  cluster: s.cluster,
                  service: s.serviceName,
                  serviceArn: s.serviceArn,
                  ...(roleArn ? { roleArn } : {}),
                  labels: labelsOf(s.tags, config.aliasTag),
                  source: 'discovered',
                });
              }
            } catch (error) {
              failures.push(accountFailure(account, region, error, roleArn));
            }
          }),
        );
      }),
    ),
  );

  failures.sort((a, b) => a.accountId.localeCompare(b.accountId) || (a.region ?? '').localeCompare(b.region ?? ''));
  skipped.sort((a, b) => a.serviceArn.localeCompare(b.serviceArn));
  found.sort((a, b) => a.alias.localeCompare(b.alias) || a.serviceArn.localeCompare(b.serviceArn));
  return { services: found, failures, skipped, accounts: accounts.length, inactive };
}

type Call = <T>(work: () => Promise<T>) => Promise<T>;

async function discoverRegion(
  ecs: EcsReader,
  call: Call,
): Promise<Array<{ serviceArn: string; serviceName: string; cluster: string; tags: Array<{ key?: string; value?: string }> }>> {
  const clusterArns: string[] = [];
  let token: string | undefined;
  do {
    const page = await call(() => ecs.listClusters(token));
    clusterArns.push(...page.clusterArns);
    token = page.nextToken;
  } while (token);

  const perCluster = await Promise.all(
    clusterArns.map(async (clusterArn) => {
      const arns: string[] = [];
      let next: string | undefined;
      do {
        const page = await call(() => ecs.listServices(clusterArn, next));
        arns.push(...page.serviceArns);
        next = page.nextToken;
      } while (next);
      const chunks = Array.from({ length: Math.ceil(arns.length / 10) }, (_, i) => arns.slice(i * 10, i * 10 + 10));
      const described = await Promise.all(chunks.map((chunk) => call(() => ecs.describeServices(clusterArn, chunk))));
      return described.flat().map((s) => ({ ...s, cluster: nameOf(clusterArn) }));
    }),
  );
  return perCluster.flat().filter((s) => s.status === undefined || s.status === 'ACTIVE');
}

function accountFailure(account: FleetAccount, region: string | undefined, error: unknown, roleArn: string | undefined): AccountFailure {
  const base = { accountId: account.id, ...(account.name ? { accountName: account.name } : {}), ...(region ? { region } : {}) };
  if (error instanceof RoleUnavailableError) {
    return {
      ...base,
      reason: 'role',
      message: error.message,
      fix: `deploy infra/cross-account-role.yaml in ${account.id} (role ${error.roleArn.slice(error.roleArn.indexOf('/') + 1)}, trusting the bot's roles)`,
    };
  }
  const name = (error as { name?: string })?.name ?? 'Error';
  const message = `${name}: ${(error as Error)?.message ?? String(error)}`;
  // The bot's own session refused (expired, not valid in that region): redeploying the target role would change nothing.
  if (isCredentialsProblem(error)) return { ...base, reason: 'error', message, fix: credentialsFix({ accountId: account.id, ...(region ? { region } : {}) }) };
  if (/AccessDenied|UnauthorizedOperation|not authorized/i.test(message)) {
    return {
      ...base,
      reason: 'access',
      message,
      fix: roleArn
        ? `update the target role in ${account.id} to the current infra/cross-account-role.yaml (ECS List/Describe)`
        : "update the bot's stack (serverless.yml): its worker role lists ECS clusters and services",
    };
  }
  return { ...base, reason: 'error', message, fix: 'refresh again later; if it persists, look at the account in the AWS console' };
}
