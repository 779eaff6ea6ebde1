import type { Permission } from '../auth/roles';
import { ROLES } from '../auth/roles';
import type { Config } from '../config/schema';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';
import { closest, parseChannelMention, parseUserMention, splitFlags, tokenize, unknownChoice, type Words } from './grammar';
import { validateScriptArgs } from './script-args';

/** An unknown script: the ingress answers with the scripts this person may run. */
export class UnknownScriptError extends UsageError {
  constructor(
    readonly input: string,
    readonly suggestion: string | undefined,
  ) {
    super(`Unknown script \`${escapeText(input)}\`.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`);
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
}

export interface VerbSpec {
  name: string;
  summary: string;
  usage: string;
  /** Extra lines for `/ecs help <verb>`. */
  details?: string[];
  /** null: anyone in an allowed workspace may use it (help, whoami). */
  permission: Permission | null;
  /** `ack`: answered ephemerally within the 3-second ack; `worker`: answered in a thread by the worker. */
  runsIn: 'ack' | 'worker';
  flags?: { withValue: string[]; boolean: string[] };
  /** Validates the words after the verb and names what the request touches. */
  scope(words: Words, config: Config): RequestScope;
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

export function resolveTarget(spec: VerbSpec, alias: string | undefined, config: Config): string {
  const choices = Object.keys(config.targets);
  if (!alias) throw usageError(spec, `Which service? Choose one of ${choices.map((c) => `\`${c}\``).join(', ')}.`);
  if (!(alias in config.targets)) throw unknownChoice('service', alias, choices);
  return alias;
}

/** An image reference or a bare tag, as people type them: no spaces, no shell characters. */
const IMAGE_OR_TAG = /^[\w][\w.\/:@-]{0,254}$/;
/** `42`, `web:42` or a task definition ARN. */
const REVISION = /^(\d{1,9}|[A-Za-z0-9_-]{1,255}:\d{1,9}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d{1,9})$/;

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
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('whoami')),
  },
  {
    name: 'services',
    summary: 'List the services this bot operates',
    usage: '/ecs services',
    permission: 'read',
    runsIn: 'ack',
    scope: noArgs(() => verbNamed('services')),
  },
  {
    name: 'status',
    summary: 'Show a service: counts, task definition, images, deployments, events, stopped tasks',
    usage: '/ecs status <service>',
    permission: 'read',
    runsIn: 'worker',
    scope(words, config) {
      expectCount(this, words, 0, 1);
      return { target: resolveTarget(this, words.positional[0], config) };
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
    runsIn: 'worker',
    flags: { withValue: ['image'], boolean: ['put-logs'] },
    scope(words, config) {
      expectCount(this, words, 0, 1);
      const image = words.flags.get('image');
      if (typeof image === 'string' && !IMAGE_OR_TAG.test(image)) throw usageError(this, `\`${escapeText(image)}\` is not an image or a tag.`);
      return { target: resolveTarget(this, words.positional[0], config) };
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
    runsIn: 'worker',
    scope(words, config) {
      const [name, ...args] = words.positional;
      const names = Object.keys(config.scripts);
      if (!name) throw usageError(this, `Which script? \`/ecs scripts\` lists yours.`);
      const script = config.scripts[name];
      if (!script) throw new UnknownScriptError(name, closest(name, names));
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
    runsIn: 'worker',
    flags: { withValue: [], boolean: ['redeploy'] },
    scope(words, config) {
      const redeploy = words.flags.get('redeploy') === true;
      expectCount(this, words, redeploy ? 0 : 1, redeploy ? 1 : 2);
      const [service, image] = words.positional;
      const target = resolveTarget(this, service, config);
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
    runsIn: 'worker',
    scope(words, config) {
      expectCount(this, words, 0, 2);
      const [service, revision] = words.positional;
      const target = resolveTarget(this, service, config);
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
    runsIn: 'ack',
    scope(words) {
      expectCount(this, words, 1, 1);
      if (!/^[a-z0-9]{6,12}$/.test(words.positional[0]!)) throw usageError(this, 'A run id looks like `k3x9q2`: it is shown when the run starts.');
      return {};
    },
  },
  {
    name: 'allow',
    summary: 'Give a person a role (admins)',
    usage: '/ecs allow @user <role> [service …|*] [--scripts a,b] [--channels #c,#d]',
    details: [
      `Roles: ${ROLES.map((r) => `\`${r}\``).join(', ')}. viewer reads (status, verify); operator also runs scripts; deployer also deploys; approver approves deploys; admin does everything and manages the allowlist.`,
      'Without services the grant covers every service. Grants add up; `/ecs deny @user` removes them all.',
    ],
    permission: 'admin',
    runsIn: 'worker',
    flags: { withValue: ['scripts', 'channels'], boolean: [] },
    scope(words, config) {
      expectCount(this, words, 2, 50);
      const [user, role, ...services] = words.positional as [string, string, ...string[]];
      parseUserMention(user);
      if (!(ROLES as readonly string[]).includes(role)) throw unknownChoice('role', role, ROLES);
      for (const s of services) if (s !== '*') resolveTarget(this, s, config);
      const channels = words.flags.get('channels');
      if (typeof channels === 'string') channels.split(',').filter(Boolean).forEach(parseChannelMention);
      return {};
    },
  },
  {
    name: 'deny',
    summary: 'Remove a person from the allowlist (admins)',
    usage: '/ecs deny @user',
    permission: 'admin',
    runsIn: 'worker',
    scope(words) {
      expectCount(this, words, 1, 1);
      parseUserMention(words.positional[0]!);
      return {};
    },
  },
  {
    name: 'allowlist',
    summary: 'List who may do what (admins)',
    usage: '/ecs allowlist',
    permission: 'admin',
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

/** Parses `status web` into a verb and its validated scope; bad input throws a UsageError. */
export function parseRequest(text: string, config: Config): ParsedRequest {
  const [first, ...rest] = tokenize(text);
  const verb = findVerb(first ?? 'help');
  const words = splitFlags(rest, verb.flags ?? { withValue: [], boolean: [] });
  return { verb, words, scope: verb.scope(words, config) };
}
