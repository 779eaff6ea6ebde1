import { scriptsFor } from './scripts';
import { ALL, ROLES, visibleServices, type AllowlistEntry, type Decision, type Grant, type Permission, type Role } from '../auth/roles';
import { mayAdminister } from '../auth/administration';
import { lookup, type Config } from '../config/schema';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';
import { closest, parseChannelMention, parseUserMention, splitFlags, tokenize, unknownChoice, type Words } from './grammar';
import { validateScriptArgs } from './script-args';

/** An unknown script: the ingress answers with the scripts this person may run. */
export class UnknownScriptError extends UsageError {
  constructor(
    readonly input: string,
    readonly suggestion: string | undefined,
    /** The script exists but this person may not run it here (audited as a denial, answered as unknown). */
    readonly hidden = false,
  ) {
    super(`Unknown script \`${escapeText(input)}\`, or not one of yours.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`);
  }
}

/** One slash-command request as Slack sent it. */
export interface Invocation {
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  /** The slash command itself, `/ecs`. */
  command: string;
  /** What followed it: `status web`. */
  text: string;
  responseUrl?: string;
  triggerId?: string;
}

export const commandText = (inv: Pick<Invocation, 'command' | 'text'>): string => `${inv.command} ${inv.text}`.trim();

export interface RequestScope {
  target?: string;
  script?: string;
  /** The person an admin verb is about. */
  subject?: string;
  /** The grant `/ecs allow` would add, as given. */
  grant?: Grant;
}

export interface VerbSpec {
  name: string;
  summary: string;
  usage: string;
  /** Extra lines for `/ecs help <verb>`. */
  details?: string[];
  /** null: anyone on the allowlist may use it (help and whoami: anyone in a configured workspace). */
  permission: Permission | null;
  /**
   * Against what the ingress checks `permission`: `target`, the service (and script) the request
   * names, which `scope()` must return; `itself`, the verb checks the thing it acts on (a run, a
   * grant, a person) and the ingress only checks that the permission is held in this channel.
   */
  checks?: 'target' | 'itself';
  /** Usable by people who are not on the allowlist (help, whoami). */
  public?: true;
  /** `ack`: answered ephemerally within the 3-second ack; `worker`: answered in a thread by the worker. */
  runsIn: 'ack' | 'worker';
  flags?: { withValue: string[]; boolean: string[] };
  /**
   * With `checks: 'itself'`: what can be decided from the request alone, on the ack path (the
   * verb checks again, with fresh data, where it acts).
   */
  authorise?(entry: AllowlistEntry | undefined, scope: RequestScope, channelId: string): Decision;
  /** Validates the words after the verb and names what the request touches. */
  scope(words: Words, config: Config, visible: Visibility): RequestScope;
}

/**
 * The names a person may learn: services they hold a role on here, scripts they may run here.
 * Suggestions and lists of choices come only from these, and a name outside them is answered
 * exactly like a name that does not exist, so nobody learns what they cannot touch.
 */
export interface Visibility {
  services: readonly string[];
  scripts: readonly string[];
}

/** What this person may learn the names of, in this channel. */
export function visibilityOf(config: Config, entry: AllowlistEntry | undefined, channelId: string): Visibility {
  return { services: visibleServices(entry, channelId, Object.keys(config.targets)), scripts: scriptsFor(config, entry, channelId) };
}

/** Everything declared: for trusted callers (the worker re-parsing an authorised request, tools). */
export const everything = (config: Config): Visibility => ({ services: Object.keys(config.targets), scripts: Object.keys(config.scripts) });

/** A name that does not exist, or that this person may not see: one answer for both. */
export class UnknownNameError extends UsageError {
  constructor(
    message: string,
    /** True when the name exists but is outside what the person may see (audited as a denial). */
    readonly hidden: boolean,
  ) {
    super(message);
  }
}

export interface ParsedRequest {
  verb: VerbSpec;
  words: Words;
  scope: RequestScope;
}

function usageError(spec: VerbSpec, problem: string): UsageError {
  return new UsageError(`${problem}\nUsage: \`${escapeText(spec.usage)}\``);
}

function expectCount(spec: VerbSpec, words: Words, min: number, max: number): void {
  const n = words.positional.length;
  if (n < min) throw usageError(spec, `\`${spec.name}\` needs more arguments.`);
  if (n > max) throw usageError(spec, `Unexpected \`${escapeText(words.positional.slice(max).join(' '))}\`.`);
}

export function resolveTarget(spec: VerbSpec, alias: string | undefined, config: Config, visible: Visibility): string {
  const choices = visible.services;
  if (!alias) throw usageError(spec, choices.length ? `Which service? Choose one of ${choices.map((c) => `\`${c}\``).join(', ')}.` : 'Which service? You hold no role on any service here.');
  const exists = lookup(config.targets, alias) !== undefined;
  if (!exists || !choices.includes(alias)) throw unknownName('service', alias, choices, exists);
  return alias;
}

/** "Unknown service `api`", the same whether it is missing or hidden, with suggestions from what is visible. */
function unknownName(kind: 'service' | 'script', input: string, visible: readonly string[], exists: boolean): UnknownNameError {
  const suggestion = closest(input, visible);
  const list = visible.length ? ` Yours here: ${visible.map((c) => `\`${c}\``).join(', ')}.` : '';
  return new UnknownNameError(`Unknown ${kind} \`${escapeText(input)}\`, or not one of yours.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}${list}`, exists);
}

/** An image reference or a bare tag, as people type them: no spaces, no shell characters. */
const IMAGE_OR_TAG = /^[\w][\w.\/:@-]{0,254}$/;
/** `42`, `web:42` or a task definition ARN. */
const REVISION = /^(\d{1,9}|[A-Za-z0-9_-]{1,255}:\d{1,9}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d{1,9})$/;

/** Bounds on one grant, so a typo or a paste cannot store thousands of entries. */
export const MAX_GRANT_SERVICES = 20;
export const MAX_GRANT_SCRIPTS = 20;
export const MAX_GRANT_CHANNELS = 10;

/** `a,b,c` with a bound on its length. */
function listFlag(spec: VerbSpec, flag: string, value: string, max: number): string[] {
  const items = value.split(',').map((v) => v.trim()).filter(Boolean);
  if (items.length === 0) throw usageError(spec, `\`--${flag}\` needs at least one name.`);
  if (items.length > max) throw usageError(spec, `\`--${flag}\` takes at most ${max} names (got ${items.length}).`);
  return items;
}

const noArgs = (spec: () => VerbSpec) => (words: Words) => {
  expectCount(spec(), words, 0, 0);
  return {};
};

export const VERBS: VerbSpec[] = [
  {
    name: 'help',
    summary: 'List the commands, or explain one',
    usage: '/ecs help [command]',
    permission: null,
    public: true,
    runsIn: 'ack',
    scope(words) {
      expectCount(this, words, 0, 1);
      const [verb] = words.positional;
      if (verb) findVerb(verb);
      return {};
    },
  },
  {
    name: 'whoami',
    summary: 'Show your roles and what you may do where',
    usage: '/ecs whoami',
    permission: null,
    public: true,
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('whoami')),
  },
  {
    name: 'services',
    summary: 'List the services this bot operates',
    usage: '/ecs services',
    permission: 'read',
    checks: 'itself',
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('services')),
  },
  {
    name: 'status',
    summary: 'Show a service: counts, task definition, images, deployments, events, stopped tasks',
    usage: '/ecs status <service>',
    permission: 'read',
    checks: 'target',
    runsIn: 'worker',
    scope(words, config, visible) {
      expectCount(this, words, 0, 1);
      return { target: resolveTarget(this, words.positional[0], config, visible) };
    },
  },
  {
    name: 'verify',
    summary: 'Check everything the service depends on: roles, images, logs, secrets, load balancers, cluster, ECS Exec, network',
    usage: '/ecs verify <service> [--image <tag|image>] [--put-logs]',
    details: [
      '`--image` checks what a deploy of that image (or tag) would leave behind, before anyone approves it.',
      '`--put-logs` proves logging works by writing one line to each log group (off by default).',
      'Permissions are checked as the role that uses them (IAM policy simulation), not as the bot.',
    ],
    permission: 'read',
    checks: 'target',
    runsIn: 'worker',
    flags: { withValue: ['image'], boolean: ['put-logs'] },
    scope(words, config, visible) {
      expectCount(this, words, 0, 1);
      const target = resolveTarget(this, words.positional[0], config, visible);
      const image = words.flags.get('image');
      if (typeof image === 'string' && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
      return { target };
    },
  },
  {
    name: 'run',
    summary: 'Run a declared maintenance script in the manager container (ECS Exec), output live in the thread',
    usage: '/ecs run <script> [args…]',
    details: [
      '`/ecs scripts` lists the scripts you may run and their arguments. `/ecs cancel <run-id>` or the Cancel button stops a run.',
      'A script declared `requiresApproval` waits for another person’s ✅ on its message (the deploy rules of its service), then runs.',
    ],
    permission: 'run',
    checks: 'target',
    runsIn: 'worker',
    scope(words, config, visible) {
      const [name, ...args] = words.positional;
      if (!name) throw usageError(this, `Which script? \`/ecs scripts\` lists yours.`);
      const script = lookup(config.scripts, name);
      // Patterns and usage are shown only to people who may run the script.
      if (!script || !visible.scripts.includes(name)) throw new UnknownScriptError(name, closest(name, visible.scripts), script !== undefined);
      validateScriptArgs(name, script, args);
      return { target: script.target, script: name };
    },
  },
  {
    name: 'deploy',
    summary: 'Deploy an image or tag to a service once another person approves it with a reaction; watched to the end, rolled back on failure',
    usage: '/ecs deploy <service> <tag|image> | /ecs deploy <service> --redeploy',
    details: [
      'The request shows what will change and who may approve; an approver reacts ✅ to approve or ❌ to reject (per-service settings may differ). You cannot approve your own request.',
      '`--redeploy` starts fresh tasks of the current task definition (new image pulls, new secrets).',
      'One deploy per service at a time. A failed rollout is rolled back to the previous task definition.',
    ],
    permission: 'deploy',
    checks: 'target',
    runsIn: 'worker',
    flags: { withValue: [], boolean: ['redeploy'] },
    scope(words, config, visible) {
      const redeploy = words.flags.get('redeploy') === true;
      expectCount(this, words, redeploy ? 0 : 1, redeploy ? 1 : 2);
      const [service, image] = words.positional;
      const target = resolveTarget(this, service, config, visible);
      if (!redeploy && !image) throw usageError(this, `Which image or tag? For example \`/ecs deploy ${target} v1.5.0\`.`);
      if (image && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
      return { target };
    },
  },
  {
    name: 'rollback',
    summary: 'Go back to the previous task definition revision (or a named one), once approved',
    usage: '/ecs rollback <service> [revision]',
    details: ['Without a revision: the newest active revision older than the running one. A revision is `42`, `web:42` or a task definition ARN.'],
    permission: 'deploy',
    checks: 'target',
    runsIn: 'worker',
    scope(words, config, visible) {
      expectCount(this, words, 0, 2);
      const [service, revision] = words.positional;
      const target = resolveTarget(this, service, config, visible);
      if (revision && !REVISION.test(revision)) throw usageError(this, `\`${escapeText(revision)}\` is not a revision: give \`42\`, \`family:42\` or a task definition ARN.`);
      return { target };
    },
  },
  {
    name: 'scripts',
    summary: 'List the maintenance scripts you may run, with their usage',
    usage: '/ecs scripts',
    permission: null,
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('scripts')),
  },
  {
    name: 'cancel',
    summary: 'Stop a running script',
    usage: '/ecs cancel <run-id>',
    permission: 'run',
    checks: 'itself',
    runsIn: 'ack',
    scope(words) {
      expectCount(this, words, 1, 1);
      if (!/^[a-z0-9]{6,12}$/.test(words.positional[0]!)) throw usageError(this, 'A run id looks like `k3x9q2`: it is shown when the run starts.');
      return {};
    },
  },
  {
    name: 'allow',
    summary: 'Give a person a role (admins, within their own scope)',
    usage: '/ecs allow @user <role> [service …|*] [--scripts a,b] [--channels #c,#d]',
    details: [
      `Roles: ${ROLES.map((r) => `\`${r}\``).join(', ')}. viewer reads (status, verify); operator also runs scripts; deployer also deploys; approver approves deploys; admin does everything and manages the allowlist of its services.`,
      'Without services the grant covers every service. `--scripts` limits an operator grant to declared scripts of its services; `--channels` limits any grant to channels.',
      'Each grant is kept as given (grants are never merged). An admin can give only what lies within their own admin grants: those services, in those channels.',
      '`/ecs deny @user` removes a person, if all of their grants lie within your scope.',
    ],
    permission: 'admin',
    checks: 'itself',
    runsIn: 'worker',
    flags: { withValue: ['scripts', 'channels'], boolean: [] },
    scope(words, config, visible) {
      expectCount(this, words, 2, 2 + MAX_GRANT_SERVICES);
      const [user, roleWord, ...serviceWords] = words.positional as [string, string, ...string[]];
      const subject = parseUserMention(user);
      if (subject === 'USLACKBOT') throw usageError(this, 'Slackbot cannot be given a role: roles are for people.');
      if (!(ROLES as readonly string[]).includes(roleWord)) throw unknownChoice('role', roleWord, ROLES);
      const role = roleWord as Role;
      const services = serviceWords.length === 0 || serviceWords.includes(ALL) ? [ALL] : [...new Set(serviceWords.map((s) => resolveTarget(this, s, config, visible)))].sort();
      const grant: Grant = { role, services };
      const scripts = words.flags.get('scripts');
      if (typeof scripts === 'string') {
        if (role !== 'operator') throw usageError(this, '`--scripts` limits an `operator` grant: other roles do not run scripts (admins run every script of their services).');
        const names = listFlag(this, 'scripts', scripts, MAX_GRANT_SCRIPTS);
        for (const name of names) {
          const script = lookup(config.scripts, name);
          if (!script || !visible.scripts.includes(name)) throw new UnknownScriptError(name, closest(name, visible.scripts), script !== undefined);
          if (!services.includes(ALL) && !services.includes(script.target)) {
            throw usageError(this, `Script \`${escapeText(name)}\` runs on \`${script.target}\`, which this grant does not cover: add \`${script.target}\` to its services.`);
          }
        }
        grant.scripts = [...new Set(names)].sort();
      }
      const channels = words.flags.get('channels');
      if (typeof channels === 'string') grant.channels = [...new Set(listFlag(this, 'channels', channels, MAX_GRANT_CHANNELS).map(parseChannelMention))].sort();
      return { subject, grant };
    },
    authorise(entry, scope, channelId) {
      return scope.grant ? mayAdminister(entry, scope.grant, channelId) : { allowed: false, reason: 'the request names no grant' };
    },
  },
  {
    name: 'deny',
    summary: 'Remove a person from the allowlist (admins, if all of their grants lie within your scope)',
    usage: '/ecs deny @user',
    permission: 'admin',
    checks: 'itself',
    runsIn: 'worker',
    scope(words) {
      expectCount(this, words, 1, 1);
      return { subject: parseUserMention(words.positional[0]!) };
    },
  },
  {
    name: 'allowlist',
    summary: 'List who may do what (admins: the part within their scope)',
    usage: '/ecs allowlist',
    permission: 'admin',
    checks: 'itself',
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('allowlist')),
  },
];

const ALIASES: Record<string, string> = { '?': 'help', '-h': 'help', '--help': 'help', me: 'whoami', list: 'services' };

function verbNamed(name: string): VerbSpec {
  return VERBS.find((v) => v.name === name)!;
}

export function findVerb(word: string): VerbSpec {
  const name = ALIASES[word.toLowerCase()] ?? word.toLowerCase();
  const spec = VERBS.find((v) => v.name === name);
  if (!spec) throw unknownChoice('command', word, VERBS.map((v) => v.name));
  return spec;
}

/** The verb named by the first word (`help` when there is none); an unknown verb throws a UsageError. */
export function verbOf(text: string): VerbSpec {
  return findVerb(tokenize(text)[0] ?? 'help');
}

/**
 * Parses `status web` into a verb and its validated scope; bad input throws a UsageError. Names
 * outside `visible` are answered as unknown (the worker, re-parsing an authorised request, passes
 * `everything(config)`).
 */
export function parseRequest(text: string, config: Config, visible: Visibility): ParsedRequest {
  const [first, ...rest] = tokenize(text);
  const verb = findVerb(first ?? 'help');
  const words = splitFlags(rest, verb.flags ?? { withValue: [], boolean: [] });
  return { verb, words, scope: verb.scope(words, config, visible) };
}
