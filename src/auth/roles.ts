/**
 * The permission model. A user's allowlist entry holds grants; each grant gives one role,
 * scoped to services (and, for operators, scripts), optionally to channels. Deny by default:
 * no entry, or no grant that covers the request, means no.
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
  /** Service aliases, or `*` for every target. */
  services: string[];
  /** Script names for operators; absent or `*` means every script of the granted services. */
  scripts?: string[];
  /** Channel ids the grant is valid in; absent means every channel. */
  channels?: string[];
}

export interface AllowlistEntry {
  teamId: string;
  userId: string;
  grants: Grant[];
  addedBy: string;
  updatedAt: string;
}

export interface Scope {
  channelId: string;
  service?: string;
  script?: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

const covers = (list: string[] | undefined, value: string | undefined): boolean =>
  value === undefined || list === undefined || list.includes(ALL) || list.includes(value);

export function isAllowed(entry: AllowlistEntry | undefined, permission: Permission, scope: Scope): Decision {
  const needed = ROLE_FOR[permission];
  const what = [
    scope.service ? `service \`${scope.service}\`` : undefined,
    scope.script ? `script \`${scope.script}\`` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  if (!entry || entry.grants.length === 0) {
    return { allowed: false, reason: 'you are not on the allowlist' };
  }
  const withPermission = entry.grants.filter((g) => ROLE_PERMISSIONS[g.role].includes(permission));
  if (withPermission.length === 0) {
    return { allowed: false, reason: `you need the \`${needed}\` role${what ? ` for ${what}` : ''}` };
  }
  const inScope = withPermission.filter((g) => covers(g.services, scope.service) && (g.role === 'admin' || covers(g.scripts, scope.script)));
  if (inScope.length === 0) {
    return { allowed: false, reason: `your \`${needed}\` role does not cover ${what}` };
  }
  if (!inScope.some((g) => covers(g.channels, scope.channelId))) {
    return { allowed: false, reason: `your \`${needed}\` role${what ? ` for ${what}` : ''} is not valid in this channel` };
  }
  return { allowed: true };
}

/** Adds a grant, merging with an existing grant of the same role and channels. */
export function addGrant(grants: Grant[], grant: Grant): Grant[] {
  const sameShape = (g: Grant) => g.role === grant.role && JSON.stringify(g.channels ?? null) === JSON.stringify(grant.channels ?? null);
  const existing = grants.find(sameShape);
  if (!existing) return [...grants, grant];
  const union = (a: string[] | undefined, b: string[] | undefined): string[] | undefined => {
    if (a === undefined || b === undefined) return undefined;
    const all = [...new Set([...a, ...b])];
    return all.includes(ALL) ? [ALL] : all.sort();
  };
  const merged: Grant = { ...existing, services: union(existing.services, grant.services) ?? [ALL] };
  const scripts = union(existing.scripts, grant.scripts);
  if (scripts) merged.scripts = scripts;
  else delete merged.scripts;
  return grants.map((g) => (g === existing ? merged : g));
}

export function describeGrant(grant: Grant): string {
  const services = grant.services.includes(ALL) ? 'all services' : grant.services.map((s) => `\`${s}\``).join(', ');
  const scripts = grant.scripts && !grant.scripts.includes(ALL) ? `, scripts ${grant.scripts.map((s) => `\`${s}\``).join(', ')}` : '';
  const channels = grant.channels ? `, only in ${grant.channels.map((c) => `<#${c}>`).join(', ')}` : '';
  return `*${grant.role}* on ${services}${scripts}${channels}`;
}

/** Holds `role` (or admin) for the service, valid in the channel: who may approve a deploy. */
export function holdsRole(entry: AllowlistEntry | undefined, role: Role, scope: Scope): boolean {
  return (entry?.grants ?? []).some((g) => (g.role === role || g.role === 'admin') && covers(g.services, scope.service) && covers(g.channels, scope.channelId));
}
