import { matchesLabels, parseSelector } from '../fleet/selector';
import type { LabelsOf, Selector } from '../fleet/types';

/**
 * The permission model. A user's allowlist entry (per Slack team) holds grants; each grant gives
 * one role, scoped to services (and, for operators, scripts), optionally to channels. Deny by
 * default: no entry, or no grant that covers the whole scope of the request, means no.
 *
 * Every check names its scope in full (channel and service, and the script for `run`); a scope
 * that is missing is a denial, never a pass. `*` in a request means "every service" and is
 * covered only by a grant on `*`.
 *
 * A grant may also name selectors (`env=staging`, src/fleet/selector.ts): it then covers the
 * services whose labels match one of them. The labels come with the scope (`Scope.labels`, from
 * the FleetService resolved for the alias); a scope without labels is matched by no selector.
 *
 * A grant on a discovered alias is bound to the service it was given for (`Grant.pins`, the
 * service's servicePin): the catalog may give a freed alias to another service (its account
 * suspended, another account's service tagged with it), and the grant must not follow the alias
 * there. Such an alias is covered only while the service it names now has that pin
 * (`Scope.pin`); an unknown current pin is a denial. Grants on declared aliases, selectors and
 * grants stored before pins existed (no `pins`) keep their meaning.
 */
export const ROLES = ['viewer', 'operator', 'deployer', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a verb needs. `status` and `verify` read; the rest act. */
export type Permission = 'read' | 'run' | 'deploy' | 'approve' | 'admin';

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'run'],
  deployer: ['read', 'deploy'],
  approver: ['read', 'approve'],
  admin: ['read', 'run', 'deploy', 'approve', 'admin'],
};

/** Which role grants a permission, for denial messages ("you need the operator role"). */
export const ROLE_FOR: Record<Permission, Role> = {
  read: 'viewer',
  run: 'operator',
  deploy: 'deployer',
  approve: 'approver',
  admin: 'admin',
};

export const ALL = '*';

export interface Grant {
  role: Role;
  /** Service aliases, or `*` for every target (empty when the grant holds only selectors). */
  services: string[];
  /** Selectors in their one spelling (formatSelector): the services whose labels match one are covered too. Absent: none. */
  selectors?: string[];
  /** Script names for operators; absent means every script of the granted services. */
  scripts?: string[];
  /** Channel ids the grant is valid in; absent means every channel. */
  channels?: string[];
  /**
   * Discovered aliases of `services` bound to one service: alias → servicePin of the service it
   * named when granted (src/commands/allow.ts). Absent for declared aliases and older grants.
   */
  pins?: Record<string, string>;
  /** Who gave a grant with pins: she may still remove it once stale (src/auth/administration.ts). */
  grantedBy?: string;
}

export interface AllowlistEntry {
  teamId: string;
  userId: string;
  grants: Grant[];
  addedBy: string;
  updatedAt: string;
}

/** What a request acts on. */
export interface Scope {
  channelId: string;
  /** The service (target alias) acted on, or `*` for every service. */
  service: string;
  /** The script, required for `run` unless the request acts on the whole service. */
  script?: string;
  /**
   * The request acts on the service itself, not on one of its scripts (`/ecs mute`): `run` is
   * checked on the service, and an operator's script limit does not narrow it.
   */
  wholeService?: true;
  /** The service's labels, built-ins included; absent (unresolved alias, or `*`): no selector matches. */
  labels?: Readonly<Record<string, string>>;
  /** The pin of the service the alias names now (servicePin); absent: unknown, and no grant bound to a service covers it. */
  pin?: string;
  /** The alias names a service only the fleet's catalog knows: a grant naming it covers it only when bound to it (`pins`). */
  discovered?: boolean;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

export const NOT_ON_ALLOWLIST = 'you are not on the allowlist';

export const grantsPermission = (grant: Grant, permission: Permission): boolean => (ROLE_PERMISSIONS[grant.role] ?? []).includes(permission);

/** A list covers a value when it holds `*` or the value; `*` itself is covered only by `*`. */
const listCovers = (list: readonly string[], value: string): boolean => list.includes(ALL) || (value !== ALL && list.includes(value));

const parsedSelectors = new Map<string, Selector | null>();
/** A stored selector, parsed once per process; one that no longer parses covers nothing. */
function storedSelector(text: string): Selector | null {
  let parsed = parsedSelectors.get(text);
  if (parsed === undefined) {
    try {
      parsed = parseSelector(text);
    } catch {
      parsed = null;
    }
    if (parsedSelectors.size > 1000) parsedSelectors.clear();
    parsedSelectors.set(text, parsed);
  }
  return parsed;
}

/** The pin an alias of the grant is bound to (undefined: not bound). Own keys only: an alias may be `constructor`. */
export const boundPin = (grant: Grant, alias: string): string | undefined => (grant.pins && Object.hasOwn(grant.pins, alias) ? grant.pins[alias] : undefined);

/**
 * A grant that names the alias but is not bound to the service it names now: bound to another
 * (`pin`: the current one; undefined when the alias names no known service any more), or not
 * bound at all while the alias names a discovered service (`discovered`) — a grant stored unbound
 * (the allowlist CLI, a target since removed from the configuration) must not follow an alias
 * that the catalog hands out. It covers nothing there, and is listed as stale.
 */
export const isStaleAlias = (grant: Grant, alias: string, pin: string | undefined, discovered = false): boolean => {
  const bound = boundPin(grant, alias);
  return bound === undefined ? discovered && alias !== ALL : bound !== pin;
};

/**
 * Does the grant cover the service? By alias (or `*`), or by a selector matching its labels.
 * `*` (every service) is covered only by a grant on `*`, never by selectors; no labels, no match.
 * An alias bound to one service (`pins`) covers it only while `pin` (the current one) is the same.
 */
export function grantCovers(grant: Grant, service: string, labels: Readonly<Record<string, string>> | undefined, pin?: string, discovered = false): boolean {
  // `*` is every service, discovered ones too; an alias covers the service it was bound to (or a declared one).
  if (grant.services.includes(ALL)) return true;
  if (service !== ALL && grant.services.includes(service) && !isStaleAlias(grant, service, pin, discovered)) return true;
  if (service === ALL || !labels || !grant.selectors) return false;
  return grant.selectors.some((text) => {
    const selector = storedSelector(text);
    return selector !== null && matchesLabels(selector, labels);
  });
}

/** Absent means everywhere. */
export const validInChannel = (grant: Grant, channelId: string): boolean => grant.channels === undefined || grant.channels.includes(channelId);

const coversScript = (grant: Grant, script: string): boolean => grant.role === 'admin' || grant.scripts === undefined || listCovers(grant.scripts, script);

const hasGrants = (entry: AllowlistEntry | undefined): entry is AllowlistEntry => !!entry && Array.isArray(entry.grants) && entry.grants.length > 0;

export function isAllowed(entry: AllowlistEntry | undefined, permission: Permission, scope: Scope): Decision {
  const needed = ROLE_FOR[permission];
  if (!hasGrants(entry)) return { allowed: false, reason: NOT_ON_ALLOWLIST };
  // A check that does not say what it is about decides nothing: refuse rather than guess.
  if (!scope.channelId || !scope.service || (permission === 'run' && !scope.script && !scope.wholeService)) {
    return { allowed: false, reason: `the request does not name the ${!scope.channelId ? 'channel' : !scope.service ? 'service' : 'script'} it acts on` };
  }
  const what = [scope.service === ALL ? 'every service' : `service \`${scope.service}\``, scope.script ? `script \`${scope.script}\`` : undefined]
    .filter(Boolean)
    .join(', ');
  const withPermission = entry.grants.filter((g) => grantsPermission(g, permission));
  if (withPermission.length === 0) return { allowed: false, reason: `you need the \`${needed}\` role for ${what}` };
  const inScope = withPermission.filter(
    (g) => grantCovers(g, scope.service, scope.labels, scope.pin, scope.discovered) && (scope.script === undefined || coversScript(g, scope.script)),
  );
  if (inScope.length === 0) return { allowed: false, reason: `your \`${needed}\` role does not cover ${what}` };
  if (!inScope.some((g) => validInChannel(g, scope.channelId)))
    return { allowed: false, reason: `your \`${needed}\` role for ${what} is not valid in this channel` };
  return { allowed: true };
}

/**
 * For verbs that check the thing they act on themselves (cancel, the admin verbs): does the person
 * hold `permission` on anything, in this channel? A gate, never the whole check.
 */
export function holdsPermissionHere(entry: AllowlistEntry | undefined, permission: Permission, channelId: string): Decision {
  if (!hasGrants(entry)) return { allowed: false, reason: NOT_ON_ALLOWLIST };
  if (!entry.grants.some((g) => grantsPermission(g, permission))) return { allowed: false, reason: `you need the \`${ROLE_FOR[permission]}\` role` };
  if (!entry.grants.some((g) => grantsPermission(g, permission) && validInChannel(g, channelId))) {
    // Name the roles they hold (an operator reading is told about "operator", not "viewer").
    const held = [...new Set(entry.grants.filter((g) => grantsPermission(g, permission)).map((g) => `\`${g.role}\``))];
    return { allowed: false, reason: `your ${held.join(' and ')} role${held.length > 1 ? 's are' : ' is'} not valid in this channel` };
  }
  return { allowed: true };
}

/** Services the person holds any role on in this channel: what they may learn the names of (`labelsOf` for selector grants). */
export function visibleServices(entry: AllowlistEntry | undefined, channelId: string, declared: readonly string[], labelsOf?: LabelsOf): string[] {
  const grants = (entry?.grants ?? []).filter((g) => validInChannel(g, channelId));
  return declared.filter((s) => grants.some((g) => grantCovers(g, s, labelsOf?.(s), labelsOf?.pinOf?.(s), labelsOf?.discovered?.(s))));
}

/** The same grant, in one spelling: sorted, without duplicates, `*` alone, pins only for its aliases. */
function normalizeGrant(grant: Grant): Grant {
  const norm = (list: string[]) => (list.includes(ALL) ? [ALL] : [...new Set(list)].sort());
  const pins = grant.services.includes(ALL)
    ? []
    : norm(grant.services).flatMap((alias) => {
        const pin = boundPin(grant, alias);
        return pin === undefined ? [] : [[alias, pin] as const];
      });
  return {
    role: grant.role,
    services: norm(grant.services),
    ...(grant.selectors?.length && !grant.services.includes(ALL) ? { selectors: [...new Set(grant.selectors)].sort() } : {}),
    ...(grant.scripts && !grant.scripts.includes(ALL) ? { scripts: norm(grant.scripts) } : {}),
    ...(grant.channels ? { channels: [...new Set(grant.channels)].sort() } : {}),
    ...(pins.length ? { pins: Object.fromEntries(pins), ...(grant.grantedBy ? { grantedBy: grant.grantedBy } : {}) } : {}),
  };
}

/** The same access: who gave it does not make it another grant. */
const sameGrant = (a: Grant, b: Grant): boolean => {
  const { grantedBy: _a, ...left } = normalizeGrant(a);
  const { grantedBy: _b, ...right } = normalizeGrant(b);
  return JSON.stringify(left) === JSON.stringify(right);
};

/** Said of an alias whose grant is bound to a service that no longer holds it (`/ecs allowlist`, `/ecs allow`). */
export const STALE_ALIAS_NOTE = 'granted for a service that no longer holds this alias';

/**
 * Adds a grant as given: never merged into an existing one, since a merge can widen what an
 * earlier grant allowed (joining services, or dropping a script limit). An identical grant is
 * not stored twice. A bound grant (`pins`) takes the place of the same grant stored unbound
 * (before pins existed): that only narrows it, and leaves no copy that follows the alias.
 */
export function addGrant(grants: Grant[], grant: Grant): { grants: Grant[]; added: boolean } {
  if (grants.some((g) => sameGrant(g, grant))) return { grants, added: false };
  const unbound = ({ pins: _pins, grantedBy: _by, ...rest }: Grant): Grant => rest;
  const older = grant.pins ? grants.findIndex((g) => g.pins === undefined && sameGrant(g, unbound(grant))) : -1;
  if (older >= 0) return { grants: grants.map((g, i) => (i === older ? normalizeGrant(grant) : g)), added: true };
  return { grants: [...grants, normalizeGrant(grant)], added: true };
}

/**
 * One line for a grant. With `current` (the pins of its aliases now, and which are discovered), an
 * alias not bound to the service it names now says so: it grants nothing until removed.
 */
export function describeGrant(grant: Grant, current?: { pinOf?: (alias: string) => string | undefined; discovered?: (alias: string) => boolean }): string {
  const selectors = grant.services.includes(ALL) ? [] : (grant.selectors ?? []).map((s) => `services matching \`${s}\``);
  const stale = (s: string) => current?.pinOf !== undefined && isStaleAlias(grant, s, current.pinOf(s), current.discovered?.(s) ?? false);
  const alias = (s: string) => (stale(s) ? `\`${s}\` (${STALE_ALIAS_NOTE})` : `\`${s}\``);
  const services = grant.services.includes(ALL) ? 'all services' : [...grant.services.map(alias), ...selectors].join(', ');
  const scripts = grant.scripts && !grant.scripts.includes(ALL) ? `, scripts ${grant.scripts.map((s) => `\`${s}\``).join(', ')}` : '';
  const channels = grant.channels ? `, only in ${grant.channels.map((c) => `<#${c}>`).join(', ')}` : '';
  return `*${grant.role}* on ${services}${scripts}${channels}`;
}

/** Holds `role` (or admin) for the service, valid in the channel: who may approve a deploy. */
export function holdsRole(entry: AllowlistEntry | undefined, role: Role, scope: Scope): boolean {
  if (!scope.service || !scope.channelId) return false;
  return (entry?.grants ?? []).some(
    (g) =>
      (g.role === role || g.role === 'admin') && grantCovers(g, scope.service, scope.labels, scope.pin, scope.discovered) && validInChannel(g, scope.channelId),
  );
}
