import { describe, expect, it } from 'vitest';
import { grantsWithinScope, mayAdminister } from '../src/auth/administration';
import { addGrant, describeGrant, holdsRole, isAllowed, visibleServices, type AllowlistEntry, type Grant } from '../src/auth/roles';
import { parseConfig } from '../src/config/schema';
import { declaredLabels, declaredServices, memoryCatalog } from '../src/fleet/memory-catalog';
import { holdsOnEvery, NoServiceMatchesError, selectServices } from '../src/fleet/selection';
import {
  checkSelectionSize,
  explainNoMatch,
  formatSelector,
  isSelector,
  isWithin,
  labelsOf,
  matchesService,
  MAX_SELECTOR_LENGTH,
  parseSelector,
  SelectionTooLargeError,
  SelectorDuplicateKeyError,
  SelectorEmptyPartError,
  SelectorError,
  SelectorKeyError,
  SelectorTooLongError,
  SelectorValueError,
  summariseLabels,
} from '../src/fleet/selector';
import type { FleetService } from '../src/fleet/types';

const service = (alias: string, labels: Record<string, string>, where: Partial<FleetService> = {}): FleetService => ({
  alias,
  accountId: '111111111111',
  region: 'eu-west-1',
  cluster: 'main',
  service: alias,
  serviceArn: `arn:aws:ecs:eu-west-1:111111111111:service/main/${alias}`,
  labels,
  source: 'declared',
  ...where,
});

const entry = (grants: Grant[]): AllowlistEntry => ({ teamId: 'T1', userId: 'U1', grants, addedBy: 'U0', updatedAt: '' });

describe('parseSelector', () => {
  it('reads every form of the grammar', () => {
    expect(parseSelector('*')).toEqual({ kind: 'all' });
    expect(parseSelector('env=prod')).toEqual({ kind: 'labels', terms: [{ key: 'env', values: ['prod'] }] });
    expect(parseSelector('team=payments,env=prod')).toEqual({
      kind: 'labels',
      terms: [
        { key: 'team', values: ['payments'] },
        { key: 'env', values: ['prod'] },
      ],
    });
    expect(parseSelector('account=123456789012')).toEqual({ kind: 'labels', terms: [{ key: 'account', values: ['123456789012'] }] });
    expect(parseSelector('region=eu-west-1')).toEqual({ kind: 'labels', terms: [{ key: 'region', values: ['eu-west-1'] }] });
    expect(parseSelector('env=prod|staging|prod')).toEqual({ kind: 'labels', terms: [{ key: 'env', values: ['prod', 'staging'] }] });
    expect(parseSelector('app.kubernetes.io/part-of=shop')).toEqual({ kind: 'labels', terms: [{ key: 'app.kubernetes.io/part-of', values: ['shop'] }] });
  });
  it('has one spelling: terms by key, values sorted', () => {
    expect(formatSelector(parseSelector('team=payments,env=staging|prod'))).toBe('env=prod|staging,team=payments');
    expect(formatSelector(parseSelector('*'))).toBe('*');
  });
  it.each([
    ['env=', SelectorValueError, 'has an empty value'],
    ['env=prod|', SelectorValueError, 'a `|` with nothing beside it'],
    ['=prod', SelectorKeyError, 'has no key'],
    ['9env=prod', SelectorKeyError, 'must start with a letter'],
    ['en v=prod', SelectorKeyError, 'must start with a letter'],
    ['env=prod,env=staging', SelectorDuplicateKeyError, 'appears twice (write `env=a|b`'],
    ['env=prod,', SelectorEmptyPartError, 'empty term'],
    ['env=prod,,team=a', SelectorEmptyPartError, 'empty term'],
    ['*,env=prod', SelectorEmptyPartError, '`*` stands alone'],
    ['env', SelectorEmptyPartError, 'has no `=`'],
    ['env=prod*', SelectorValueError, 'no wildcards'],
    ['env=pr<o>d', SelectorValueError, 'may hold only letters'],
    ['account=12345', SelectorValueError, 'an account is 12 digits'],
    ['region=europe', SelectorValueError, 'not an AWS region'],
    [`env=${'a'.repeat(MAX_SELECTOR_LENGTH)}`, SelectorTooLongError, 'characters long'],
    [Array.from({ length: 9 }, (_, i) => `k${i}=v`).join(','), SelectorTooLongError, 'more than 8'],
    [`env=${Array.from({ length: 21 }, (_, i) => `v${i}`).join('|')}`, SelectorTooLongError, 'more than 20'],
  ])('refuses %s with a specific message', (input, kind, message) => {
    let thrown: unknown;
    try {
      parseSelector(input);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(kind);
    expect(thrown).toBeInstanceOf(SelectorError);
    expect((thrown as SelectorError).userMessage).toContain(message);
  });
  it('escapes what it quotes back', () => {
    expect(() => parseSelector('<@U1>=x')).toThrow(/&lt;@U1&gt;/);
  });
  it('tells a selector from an alias', () => {
    expect(isSelector('env=prod')).toBe(true);
    expect(isSelector('*')).toBe(true);
    expect(isSelector('web')).toBe(false);
    expect(isSelector('api-internal')).toBe(false);
  });
});

describe('matching', () => {
  const web = service('web', { env: 'prod', team: 'payments' });
  it('needs every term, any of a term’s values', () => {
    expect(matchesService(parseSelector('env=prod'), web)).toBe(true);
    expect(matchesService(parseSelector('env=staging|prod,team=payments'), web)).toBe(true);
    expect(matchesService(parseSelector('env=prod,team=search'), web)).toBe(false);
    expect(matchesService(parseSelector('tier=web'), web)).toBe(false);
    expect(matchesService(parseSelector('*'), web)).toBe(true);
  });
  it('matches the built-ins account, region and cluster, which a tag cannot override', () => {
    expect(matchesService(parseSelector('account=111111111111,region=eu-west-1,cluster=main'), web)).toBe(true);
    expect(matchesService(parseSelector('region=us-east-1'), web)).toBe(false);
    const spoof = service('spoof', { region: 'us-east-1' });
    expect(labelsOf(spoof).region).toBe('eu-west-1');
    expect(matchesService(parseSelector('region=us-east-1'), spoof)).toBe(false);
  });
});

describe('isWithin', () => {
  const s = parseSelector;
  it('holds when every term of the outer one is in the inner one with a subset of its values', () => {
    expect(isWithin(s('team=payments,env=prod'), s('team=payments'))).toBe(true);
    expect(isWithin(s('team=payments,env=prod'), s('team=payments|search'))).toBe(true);
    expect(isWithin(s('env=prod'), s('team=payments'))).toBe(false);
    expect(isWithin(s('team=payments|search'), s('team=payments'))).toBe(false);
    expect(isWithin(s('team=payments'), s('team=payments,env=prod'))).toBe(false);
    expect(isWithin(s('*'), s('team=payments'))).toBe(false);
    expect(isWithin(s('team=payments'), s('*'))).toBe(true);
    expect(isWithin(s('*'), s('*'))).toBe(true);
  });
});

describe('a selector matching nothing', () => {
  const summary = summariseLabels([service('web', { env: 'prod', team: 'payments' }), service('api', { env: 'staging', team: 'payments' })]);
  it('names the closest value and the values there are', () => {
    const text = explainNoMatch(parseSelector('env=prd'), summary);
    expect(text).toContain('no service has `env=prd` (did you mean `env=prod`?); its values: `prod`, `staging`');
  });
  it('names the closest key, built-ins included', () => {
    expect(explainNoMatch(parseSelector('tem=payments'), summary)).toContain('no service has the label `tem` (did you mean `team`?)');
    expect(explainNoMatch(parseSelector('regoin=eu-west-1'), summary)).toContain('(did you mean `region`?)');
    expect(explainNoMatch(parseSelector('colour=blue'), summary)).not.toContain('did you mean');
  });
  it('says when each term matches but no service has them all', () => {
    const none = summariseLabels([service('web', { env: 'prod' }), service('api', { env: 'staging', team: 'search' })]);
    expect(explainNoMatch(parseSelector('env=prod,team=search'), none)).toContain('each term matches some service, but no service matches them all');
  });
});

describe('maxSelection and --all', () => {
  const many = Array.from({ length: 5 }, (_, i) => service(`s${i}`, { env: 'prod' }));
  const selector = parseSelector('env=prod');
  it('passes up to the bound', () => {
    expect(() => checkSelectionSize(selector, many, { max: 5, all: false, mayActOnAll: () => false })).not.toThrow();
  });
  it('beyond it, asks to narrow, or for --all', () => {
    expect(() => checkSelectionSize(selector, many, { max: 4, all: false, mayActOnAll: () => true })).toThrow(SelectionTooLargeError);
    expect(() => checkSelectionSize(selector, many, { max: 4, all: false, mayActOnAll: () => true })).toThrow(
      /matches 5 services, more than 4.*Narrow it.*--all/,
    );
  });
  it('takes --all from an admin of every selected service only', () => {
    const admin = entry([{ role: 'admin', selectors: ['env=prod'], services: [] }]);
    const viewer = entry([{ role: 'viewer', services: ['*'] }]);
    const adminOfSome = entry([{ role: 'admin', services: ['s0', 's1'] }]);
    const check = (e: AllowlistEntry) => () =>
      checkSelectionSize(selector, many, { max: 4, all: true, mayActOnAll: (services) => holdsOnEvery(e, 'C1', 'admin', services) });
    expect(check(admin)).not.toThrow();
    expect(check(viewer)).toThrow(/`--all` needs the `admin` role on every one of them/);
    expect(check(adminOfSome)).toThrow(SelectionTooLargeError);
  });
});

describe('grants with selectors', () => {
  const labels = { env: 'staging', team: 'payments', account: '111111111111', region: 'eu-west-1', cluster: 'main' };
  const dana = entry([{ role: 'viewer', services: [], selectors: ['env=staging'] }]);
  it('cover a service whose labels match, and nothing else (deny by default)', () => {
    expect(isAllowed(dana, 'read', { channelId: 'C1', service: 'api', labels }).allowed).toBe(true);
    expect(isAllowed(dana, 'read', { channelId: 'C1', service: 'web', labels: { ...labels, env: 'prod' } })).toEqual({
      allowed: false,
      reason: 'your `viewer` role does not cover service `web`',
    });
    // An alias whose labels could not be resolved is matched by no selector.
    expect(isAllowed(dana, 'read', { channelId: 'C1', service: 'api' }).allowed).toBe(false);
    // "Every service" is never covered by a selector.
    expect(isAllowed(dana, 'read', { channelId: 'C1', service: '*', labels }).allowed).toBe(false);
    expect(isAllowed(dana, 'deploy', { channelId: 'C1', service: 'api', labels }).allowed).toBe(false);
  });
  it('a stored selector that no longer parses covers nothing', () => {
    const odd = entry([{ role: 'viewer', services: [], selectors: ['env='] }]);
    expect(isAllowed(odd, 'read', { channelId: 'C1', service: 'api', labels: { env: '' } }).allowed).toBe(false);
  });
  it('make services visible and approvers by their labels', () => {
    const labelsOfAlias = (alias: string) => (alias === 'api' ? labels : alias === 'web' ? { ...labels, env: 'prod' } : undefined);
    expect(visibleServices(dana, 'C1', ['api', 'web', 'gone'], labelsOfAlias)).toEqual(['api']);
    expect(visibleServices(dana, 'C1', ['api', 'web'])).toEqual([]);
    const approver = entry([{ role: 'approver', services: [], selectors: ['team=payments'] }]);
    expect(holdsRole(approver, 'approver', { channelId: 'C1', service: 'api', labels })).toBe(true);
    expect(holdsRole(approver, 'approver', { channelId: 'C1', service: 'api' })).toBe(false);
  });
  it('are stored in one spelling and described', () => {
    const { grants } = addGrant([], { role: 'viewer', services: [], selectors: ['env=staging', 'env=staging'] });
    expect(grants).toEqual([{ role: 'viewer', services: [], selectors: ['env=staging'] }]);
    expect(addGrant(grants, { role: 'viewer', services: [], selectors: ['env=staging'] }).added).toBe(false);
    expect(describeGrant({ role: 'viewer', services: ['web'], selectors: ['env=staging'] })).toBe('*viewer* on `web`, services matching `env=staging`');
  });
});

describe('nobody grants beyond their own scope, with selectors', () => {
  const payments = entry([{ role: 'admin', services: [], selectors: ['team=payments'] }]);
  const labelsOfAlias = (alias: string) => ({ pay: { team: 'payments', env: 'prod' }, search: { team: 'search', env: 'prod' } })[alias as 'pay' | 'search'];
  it('an admin of team=payments may grant a selector within hers', () => {
    expect(mayAdminister(payments, { role: 'viewer', services: [], selectors: ['env=prod,team=payments'] }, 'C1').allowed).toBe(true);
    expect(mayAdminister(payments, { role: 'viewer', services: [], selectors: ['team=payments'] }, 'C1').allowed).toBe(true);
  });
  it('but not one beyond it, nor every service', () => {
    expect(mayAdminister(payments, { role: 'viewer', services: [], selectors: ['env=prod'] }, 'C1')).toEqual({
      allowed: false,
      reason: 'your `admin` role does not cover services matching `env=prod`',
    });
    expect(mayAdminister(payments, { role: 'viewer', services: [], selectors: ['team=payments|search'] }, 'C1').allowed).toBe(false);
    expect(mayAdminister(payments, { role: 'viewer', services: ['*'] }, 'C1').allowed).toBe(false);
  });
  it('may grant an alias her selector matches, by its labels', () => {
    expect(mayAdminister(payments, { role: 'viewer', services: ['pay'] }, 'C1', labelsOfAlias).allowed).toBe(true);
    expect(mayAdminister(payments, { role: 'viewer', services: ['search'] }, 'C1', labelsOfAlias).allowed).toBe(false);
    expect(mayAdminister(payments, { role: 'viewer', services: ['pay'] }, 'C1').allowed).toBe(false);
  });
  it('an admin of aliases grants no selector; a global admin does', () => {
    const web = entry([{ role: 'admin', services: ['pay'] }]);
    expect(mayAdminister(web, { role: 'viewer', services: [], selectors: ['team=payments'] }, 'C1', labelsOfAlias).allowed).toBe(false);
    const global = entry([{ role: 'admin', services: ['*'] }]);
    expect(mayAdminister(global, { role: 'viewer', services: [], selectors: ['env=prod'] }, 'C1').allowed).toBe(true);
  });
  it('is shown only the grants within her scope', () => {
    const grants: Grant[] = [
      { role: 'viewer', services: [], selectors: ['env=prod,team=payments'] },
      { role: 'viewer', services: [], selectors: ['env=prod'] },
    ];
    expect(grantsWithinScope(payments, grants, 'C1')).toEqual([grants[0]]);
  });
});

describe('the declared targets as a catalog', () => {
  const config = parseConfig({
    slack: { teams: ['T1'] },
    targets: {
      web: { region: 'us-east-1', cluster: 'main', service: 'web', labels: { env: 'prod', team: 'payments' } },
      api: { region: 'eu-west-1', cluster: 'main', service: 'api', roleArn: 'arn:aws:iam::222222222222:role/t', labels: { env: 'staging' } },
      bare: { region: 'eu-west-1', cluster: 'side', service: 'bare' },
    },
  });
  it('are FleetServices of source declared, with their labels and accounts', () => {
    const [web, api, bare] = declaredServices(config, '111111111111');
    expect(web).toMatchObject({ alias: 'web', accountId: '111111111111', labels: { env: 'prod', team: 'payments' }, source: 'declared' });
    expect(api).toMatchObject({
      accountId: '222222222222',
      roleArn: 'arn:aws:iam::222222222222:role/t',
      serviceArn: 'arn:aws:ecs:eu-west-1:222222222222:service/main/api',
    });
    expect(bare!.labels).toEqual({});
    // Without the bot's own account, a same-account target has no `account` label to match.
    expect(declaredLabels(config)('web')).toEqual({ env: 'prod', team: 'payments', region: 'us-east-1', cluster: 'main' });
    expect(declaredLabels(config)('api')!.account).toBe('222222222222');
    expect(declaredLabels(config)('nope')).toBeUndefined();
  });
  it('get, select and labels read them', async () => {
    const catalog = memoryCatalog(config, { ownAccountId: '111111111111' });
    expect((await catalog.get('api'))?.alias).toBe('api');
    expect(await catalog.get('nope')).toBeUndefined();
    expect((await catalog.select(parseSelector('region=eu-west-1'))).map((s) => s.alias)).toEqual(['api', 'bare']);
    expect((await catalog.select(parseSelector('account=111111111111'))).map((s) => s.alias)).toEqual(['web', 'bare']);
    expect((await catalog.labels()).env).toEqual({ prod: 1, staging: 1 });
  });
  it('selects only what the person may see, and suggests only from it', async () => {
    const catalog = memoryCatalog(config);
    const viewer = entry([{ role: 'viewer', services: ['web', 'bare'] }]);
    expect((await selectServices(catalog, parseSelector('*'), { entry: viewer, channelId: 'C1' })).map((s) => s.alias)).toEqual(['bare', 'web']);
    const miss = selectServices(catalog, parseSelector('env=staging'), { entry: viewer, channelId: 'C1' });
    await expect(miss).rejects.toBeInstanceOf(NoServiceMatchesError);
    // `staging` exists (on api) but is not theirs: not suggested, not listed.
    await expect(miss).rejects.toThrow(/its values: `prod`$|its values: `prod`\./);
    await expect(selectServices(catalog, parseSelector('*'), { entry: viewer, channelId: 'C1', max: 1 })).rejects.toBeInstanceOf(SelectionTooLargeError);
  });
  it('refuses labels that shadow the built-ins, or are not labels', () => {
    const bad = (labels: unknown) => () =>
      parseConfig({ slack: { teams: ['T1'] }, targets: { web: { region: 'us-east-1', cluster: 'c', service: 's', labels } } });
    expect(bad({ region: 'x' })).toThrow(/built-in labels/);
    expect(bad({ env: 'a b' })).toThrow(/label value/);
    expect(bad({ '9x': 'a' })).toThrow(/label key/);
  });
  it('reads maxSelection with a default of 200', () => {
    expect(config.selectors.maxSelection).toBe(200);
  });
});
