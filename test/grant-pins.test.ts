import { describe, expect, it } from 'vitest';
import { grantsWithinScope, mayAdminister, mayRemove } from '../src/auth/administration';
import { authorise } from '../src/auth/authorise';
import { addGrant, describeGrant, holdsRole, isAllowed, visibleServices, type AllowlistEntry, type Grant } from '../src/auth/roles';
import { parseRequest, visibilityOf } from '../src/commands/registry';
import { parseConfig } from '../src/config/schema';
import { labelsWithDiscovered } from '../src/fleet/memory-catalog';
import { servicePin } from '../src/fleet/pin';
import { holdsOnEvery, visibleFleet } from '../src/fleet/selection';
import type { FleetService, LabelsOf } from '../src/fleet/types';

/**
 * A grant on a discovered alias is bound to the service it was given for (`pins`): the catalog may
 * give a freed alias to another service (its account suspended, another account's service tagged
 * with it), and the grant must not follow the alias there.
 */
const service = (accountId: string, team: string): FleetService => ({
  alias: 'pay-api',
  accountId,
  region: 'us-east-1',
  cluster: 'fleet',
  service: 'pay',
  serviceArn: `arn:aws:ecs:us-east-1:${accountId}:service/fleet/pay`,
  labels: { team, env: 'prod' },
  source: 'discovered',
});
const original = service('300000000001', 'payments');
const usurper = service('300000000002', 'growth');

const entry = (grants: Grant[], userId = 'U0BOB'): AllowlistEntry => ({ teamId: 'T1', userId, grants, addedBy: 'U0PAM', updatedAt: '' });
const bound: Grant = { role: 'admin', services: ['pay-api'], pins: { 'pay-api': servicePin(original) }, grantedBy: 'U0PAM' };
const bob = entry([bound]);
const scopeOf = (s: FleetService | undefined) => ({ channelId: 'C1', service: 'pay-api', ...(s ? { pin: servicePin(s) } : {}) });

/** What the ingress and the worker resolve: the declared targets, and the one discovered service read (labels and pin). */
const config = parseConfig({ slack: { teams: ['T1'] }, targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } } });
const resolved = (s: FleetService | undefined): LabelsOf => labelsWithDiscovered(config, s);

describe('a grant bound to a discovered service', () => {
  it('covers its alias while the alias names that service, and nothing once another service holds it', () => {
    expect(isAllowed(bob, 'admin', scopeOf(original))).toEqual({ allowed: true });
    expect(isAllowed(bob, 'read', scopeOf(usurper))).toEqual({ allowed: false, reason: 'your `viewer` role does not cover service `pay-api`' });
    expect(holdsRole(bob, 'approver', scopeOf(original))).toBe(true);
    expect(holdsRole(bob, 'approver', scopeOf(usurper))).toBe(false);
  });

  it('denies when the current service is unknown: a missing pin is never a pass', () => {
    expect(isAllowed(bob, 'read', scopeOf(undefined)).allowed).toBe(false);
    expect(holdsRole(bob, 'admin', scopeOf(undefined))).toBe(false);
  });

  it('never lets a grant stored unbound (the allowlist CLI, a target since removed) follow an alias the catalog hands out', () => {
    const older = entry([{ role: 'viewer', services: ['pay-api'] }]);
    expect(isAllowed(older, 'read', { ...scopeOf(usurper), discovered: true }).allowed).toBe(false);
    expect(
      authorise(parseRequest('status pay-api', config, { services: ['pay-api'], scripts: [], discovered: ['pay-api'] }), older, 'C1', resolved(usurper))
        .allowed,
    ).toBe(false);
    expect(visibleFleet(older, 'C1', [usurper])).toEqual([]);
    expect(describeGrant({ role: 'viewer', services: ['pay-api'] }, resolved(usurper))).toBe(
      '*viewer* on `pay-api` (granted for a service that no longer holds this alias)',
    );
    // `*` is every service, discovered ones included; a declared alias needs no binding.
    expect(isAllowed(entry([{ role: 'viewer', services: ['*'] }]), 'read', { ...scopeOf(usurper), discovered: true }).allowed).toBe(true);
    expect(isAllowed(entry([{ role: 'viewer', services: ['web'] }]), 'read', { channelId: 'C1', service: 'web' }).allowed).toBe(true);
  });

  it('leaves grants without pins on declared aliases, and selectors, as they were', () => {
    const older = entry([{ role: 'viewer', services: ['pay-api'] }]);
    // A declared `pay-api` (no catalog resolution: not discovered): the unbound grant covers it.
    expect(isAllowed(older, 'read', scopeOf(undefined)).allowed).toBe(true);
    const selector = entry([{ role: 'viewer', services: [], selectors: ['team=growth'] }]);
    expect(isAllowed(selector, 'read', { ...scopeOf(usurper), labels: { team: 'growth' } }).allowed).toBe(true);
    // A pin for another alias binds nothing here; an alias named `constructor` is not read off the prototype.
    const other = entry([{ role: 'viewer', services: ['web', 'constructor'], pins: { 'pay-api': 'x' } }]);
    expect(isAllowed(other, 'read', { channelId: 'C1', service: 'web' }).allowed).toBe(true);
    expect(isAllowed(other, 'read', { channelId: 'C1', service: 'constructor' }).allowed).toBe(true);
  });

  it('is judged by the service authorise resolves: the ingress’s and the worker’s one read', () => {
    const request = parseRequest('status pay-api', config, { services: ['web', 'pay-api'], scripts: [], discovered: ['pay-api'] });
    expect(authorise(request, bob, 'C1', resolved(original))).toEqual({ allowed: true });
    expect(authorise(request, bob, 'C1', resolved(usurper))).toEqual({ allowed: false, reason: 'your `viewer` role does not cover service `pay-api`' });
    // Not in the catalog at all (nothing read): denied.
    expect(authorise(request, bob, 'C1', resolved(undefined)).allowed).toBe(false);
    expect(visibleServices(bob, 'C1', ['web', 'pay-api'], resolved(original))).toEqual(['pay-api']);
    expect(visibleServices(bob, 'C1', ['web', 'pay-api'], resolved(usurper))).toEqual([]);
    // What the ingress lets the person name: the alias another service holds now is not theirs.
    expect(visibilityOf(config, bob, 'C1', original).services).toEqual(['pay-api']);
    expect(visibilityOf(config, bob, 'C1', usurper).services).toEqual([]);
  });

  it('selects only that service in a fleet command', () => {
    expect(visibleFleet(bob, 'C1', [original, usurper])).toEqual([original]);
    expect(holdsOnEvery(bob, 'C1', 'read', [original])).toBe(true);
    expect(holdsOnEvery(bob, 'C1', 'read', [usurper])).toBe(false);
  });

  it('counts as another grant than one bound to another service, but not because another admin gave it', () => {
    const again = addGrant([bound], { ...bound, grantedBy: 'U0ALICE' });
    expect(again.added).toBe(false);
    const rebound = addGrant([bound], { ...bound, pins: { 'pay-api': servicePin(usurper) } });
    expect(rebound.added).toBe(true);
    expect(rebound.grants[1]).toEqual({ role: 'admin', services: ['pay-api'], pins: { 'pay-api': servicePin(usurper) }, grantedBy: 'U0PAM' });
  });

  it('takes the place of the same grant stored before pins existed: narrower, and no copy left to follow the alias', () => {
    const selector: Grant = { role: 'viewer', services: [], selectors: ['env=prod'] };
    const older: Grant = { role: 'admin', services: ['pay-api'] };
    expect(addGrant([selector, older], bound)).toEqual({ grants: [selector, bound], added: true });
    // One on other services, or with another script limit, is another grant: both stay.
    const other: Grant = { role: 'admin', services: ['pay-api', 'web'] };
    expect(addGrant([other], bound).grants).toEqual([other, bound]);
  });

  it('is listed as stale once another service holds the alias', () => {
    expect(describeGrant(bound, resolved(original))).toBe('*admin* on `pay-api`');
    expect(describeGrant(bound, resolved(usurper))).toBe('*admin* on `pay-api` (granted for a service that no longer holds this alias)');
  });
});

describe('administering a grant bound to a discovered service', () => {
  const pam = entry([{ role: 'admin', services: [], selectors: ['team=payments'] }], 'U0PAM');
  const gina = entry([{ role: 'admin', services: [], selectors: ['team=growth'] }], 'U0GINA');
  const alice = entry([{ role: 'admin', services: ['*'] }], 'U0ALICE');

  it('while current: by whoever administers the service it names (its labels), as any grant', () => {
    expect(mayAdminister(pam, bound, 'C1', resolved(original))).toEqual({ allowed: true });
    expect(mayAdminister(gina, bound, 'C1', resolved(original)).allowed).toBe(false);
    expect(mayRemove(pam, bob, 'C1', resolved(original))).toEqual({ allowed: true });
  });

  it('once stale: by an admin of `*` or by whoever gave it, never by the admin of the service now holding the alias', () => {
    const now = resolved(usurper);
    expect(mayRemove(alice, bob, 'C1', now)).toEqual({ allowed: true });
    // Pam gave it: her selector no longer matches what the alias names, she may still take it away.
    expect(mayRemove(pam, bob, 'C1', now)).toEqual({ allowed: true });
    // Gina's selector matches the service now holding the alias: the grant is not hers.
    expect(mayRemove(gina, bob, 'C1', now)).toEqual({ allowed: false, reason: 'that person has grants beyond your scope' });
    expect(mayAdminister(gina, bound, 'C1', now)).toEqual({
      allowed: false,
      reason:
        'your `admin` role does not cover service `pay-api` (granted for a service that no longer holds this alias: only an admin of every service, or whoever granted it, may remove it)',
    });
    expect(grantsWithinScope(gina, bob.grants, 'C1', now)).toEqual([]);
    expect(grantsWithinScope(pam, bob.grants, 'C1', now)).toEqual([bound]);
    // An admin who gave it but holds no admin role in this channel any more: no.
    const former = entry([{ role: 'admin', services: [], selectors: ['team=payments'], channels: ['C9'] }], 'U0PAM');
    expect(mayRemove(former, bob, 'C1', now).allowed).toBe(false);
  });

  it('an admin’s own bound grant administers only the service it was given for', () => {
    const paula = entry([{ role: 'admin', services: ['pay-api'], pins: { 'pay-api': servicePin(original) } }], 'U0PAULA');
    const viewer: Grant = { role: 'viewer', services: ['pay-api'] };
    expect(mayAdminister(paula, viewer, 'C1', resolved(original))).toEqual({ allowed: true });
    expect(mayAdminister(paula, viewer, 'C1', resolved(usurper)).allowed).toBe(false);
  });
});

describe('a bound alias declared since under `targets:`', () => {
  it('is the declared target’s: the grant covers it when it is the same service, never another', () => {
    const declared = parseConfig({
      slack: { teams: ['T1'] },
      targets: { 'pay-api': { region: 'us-east-1', cluster: 'fleet', service: 'pay', roleArn: 'arn:aws:iam::300000000001:role/ecs-chatops-target' } },
    });
    const request = parseRequest('status pay-api', declared, { services: ['pay-api'], scripts: [] });
    // The catalog's twin is hidden by the declaration: the declared target is what the alias names.
    expect(authorise(request, bob, 'C1', labelsWithDiscovered(declared, usurper))).toEqual({ allowed: true });
    const elsewhere = parseConfig({
      slack: { teams: ['T1'] },
      targets: { 'pay-api': { region: 'us-east-1', cluster: 'fleet', service: 'pay', roleArn: 'arn:aws:iam::300000000002:role/ecs-chatops-target' } },
    });
    expect(authorise(request, bob, 'C1', labelsWithDiscovered(elsewhere, undefined)).allowed).toBe(false);
  });
});
