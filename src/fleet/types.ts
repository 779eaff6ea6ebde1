/**
 * The fleet: ECS services discovered across many accounts and regions (issue 19), and the shapes
 * the catalog, the selectors and the fleet commands share. Kept apart so each of them depends on
 * these types only, never on one another's code.
 */

/** One service the bot knows: discovered (AWS Organizations → role → ECS) or declared by hand in the configuration. */
export interface FleetService {
  /** What people type (`/ecs status web`): unique in the catalog; from the `ecs-chatops:alias` tag or the configured naming rule. */
  alias: string;
  accountId: string;
  region: string;
  cluster: string;
  service: string;
  serviceArn: string;
  /** The role the bot assumes in the service's account (the cross-account role template); absent for the bot's own account. */
  roleArn?: string;
  /**
   * The service's tags as labels (`env`, `team`, …; the `ecs-chatops:` tags are not labels). The
   * built-in labels `account`, `region` and `cluster` are matched by selectors too, but are not stored here.
   */
  labels: Record<string, string>;
  /** Where it comes from: a hand-declared target overrides a discovered one of the same alias. */
  source: 'declared' | 'discovered';
}

/** The built-in labels every service has, from where it lives. */
export const BUILT_IN_LABELS = ['account', 'region', 'cluster'] as const;

/**
 * A selector as typed: `*` (every service), or terms joined by `,` that must all hold, each
 * `key=value` or `key=v1|v2` (any of the values): `team=payments,env=prod`, `account=123456789012`.
 */
export type Selector = { kind: 'all' } | { kind: 'labels'; terms: ReadonlyArray<{ key: string; values: readonly string[] }> };

/** What the fleet commands read: resolving one alias is one key read (the ingress's budget); selecting may read more. */
export interface CatalogReader {
  get(alias: string): Promise<FleetService | undefined>;
  /**
   * The services of these aliases the catalog has (the others skipped), sorted by alias: a
   * BatchGetItem per 100 in DynamoDB. For many aliases at once (every discovered service the
   * grants of an allowlist name), never on the ingress's ack path.
   */
  getMany(aliases: readonly string[]): Promise<FleetService[]>;
  select(selector: Selector): Promise<FleetService[]>;
  /** Every label key with its values and how many services carry each, for "did you mean" on a selector matching nothing. */
  labels(): Promise<Record<string, Record<string, number>>>;
}

/** One service's answer in a fleet run: an account that cannot be reached is a result, never an abort. */
export interface FleetResult {
  alias: string;
  accountId: string;
  region: string;
  verdict: 'ok' | 'warn' | 'fail' | 'error';
  /** One line: the worst finding, or the error with its fix ("deploy the target role in 123456789012"). */
  summary: string;
  /** Per-verdict counts of checks (verify) or task counts (status), for the file. */
  detail?: Record<string, number | string>;
}

/**
 * A service's labels with the built-ins (`account`, `region`, `cluster`), by alias; undefined for
 * an alias the caller could not resolve (a selector grant then covers nothing: deny by default).
 * Synchronous on purpose: the caller resolves what it needs first — for declared targets from the
 * configuration (src/fleet/memory-catalog.ts, declaredLabels), for a DynamoDB catalog with one
 * GetItem of the alias the command names, in parallel with the allowlist read — and the
 * authorisation (src/auth/roles.ts) only looks up.
 */
export type LabelsOf = ((alias: string) => Readonly<Record<string, string>> | undefined) & {
  /**
   * The pin (src/fleet/pin.ts, servicePin) of the service the alias names now, from the same
   * resolution as its labels: what a grant bound to one service (`Grant.pins`) is compared with.
   * Absent, or undefined for an alias: unknown, and a bound grant then covers nothing there.
   */
  readonly pinOf?: (alias: string) => string | undefined;
  /** The alias names a service only the catalog knows (not a declared target): only a grant bound to it covers it by alias. */
  readonly discovered?: (alias: string) => boolean;
};
