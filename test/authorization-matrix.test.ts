import { typedCode } from '../src/slack/format';
import type { App } from '@slack/bolt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedSlackEvent, slashCommandBody, triggerId } from '../local/slack/sign';
import type { SlackMessage } from '../local/slack/server';
import { SEED_ALLOWLIST, startWorld, WORKER_FUNCTION, type World } from '../local/world';
import type { AuditOutcome, AuditRecord } from '../src/audit/audit';
import type { AllowlistStore } from '../src/auth/allowlist';
import type { Grant } from '../src/auth/roles';
import { verbOf, VERBS } from '../src/commands/registry';
import { servicesRefreshVerb } from '../src/commands/verbs/services-refresh';
import type { Config } from '../src/config/schema';
import type { ApprovalRequests } from '../src/approval/requests';
import type { StateStore } from '../src/platform/state';
import {
  CANCEL_ACTION,
  clickedCommand,
  NOTIFY_LOGS_ACTION,
  NOTIFY_MUTE_ACTION,
  NOTIFY_ROLLBACK_ACTION,
  NOTIFY_STATUS_ACTION,
  NOTIFY_VERIFY_ACTION,
  notificationButtons,
  RERUN_ACTION,
} from '../src/slack/actions';

/**
 * The authorisation matrix (issue 11): every verb × role × scope (service, script, channel, team)
 * × entry point, against the real ingress and worker in the local world. Each row says what the
 * person is told (at once, in the worker's thread, or privately by the worker through the
 * response_url), whether a worker job ran, and what the audit table records (decision, outcome,
 * reason); rows that must change nothing also check that the allowlist (and, for cancel and
 * reactions, the run and the approval request) did not change.
 *
 * Rows run in order within the file: a few build on earlier ones (grants given by `allow`, a run
 * cancelled after the refusals). Two requests are opened before the rows, and withdrawn after:
 * a deploy of `web` (by dora) and a run of `restore.sh` (by owen, waiting for its approval). The
 * matrix's configuration asks 5 approvals of each, so an approval that counts changes nothing
 * beyond the request, and the deploy lock they hold keeps the allowed deploy rows from opening
 * requests of their own.
 */

const TEAM = 'T0LOCAL';
/** A second workspace the configuration serves: its own allowlist, none of this one's requests. */
const OTHER_TEAM = 'T0OTHER';
/** A workspace the configuration does not list. */
const UNKNOWN_TEAM = 'T0NOWHERE';
const OPS = 'C0OPS';
const DEV = 'C0DEV';
const CHANNEL_NAMES: Record<string, string> = { [OPS]: 'ops', [DEV]: 'dev' };
const ECS = '/ecs';
/** Any message's ts: the ingress does not look at which message a button was under. */
const BUTTON_MESSAGE_TS = '1700000000.000100';
const RESTORE_ARG = '20261124-010203-nightly';

interface Person {
  id: string;
  about: string;
  grants?: Grant[];
  /** The workspace the grants are in (default: the local one). */
  grantsTeam?: string;
  /** In Slack: a member of another workspace, seen through a shared channel. */
  slackTeam?: string;
  deactivated?: true;
  /** Already in the local Slack workspace (the seeded people). */
  seeded?: true;
}

const PEOPLE = {
  alice: { id: 'U0ALICE', about: 'global admin', seeded: true },
  bob: { id: 'U0BOB', about: 'approver and viewer of everything', seeded: true },
  mallory: { id: 'U0MALLORY', about: 'not on the allowlist', seeded: true },
  wanda: { id: 'U0WANDA', about: 'admin of web', grants: [{ role: 'admin', services: ['web'] }] },
  carl: { id: 'U0CARL', about: 'admin of web in #ops only', grants: [{ role: 'admin', services: ['web'], channels: [OPS] }] },
  victor: { id: 'U0VICTOR', about: 'viewer of web', grants: [{ role: 'viewer', services: ['web'] }] },
  oscar: { id: 'U0OSCAR', about: 'operator of manager, backup.sh only', grants: [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }] },
  olga: { id: 'U0OLGA', about: 'operator of manager in #dev only', grants: [{ role: 'operator', services: ['manager'], channels: [DEV] }] },
  omar: { id: 'U0OMAR', about: 'operator of manager', grants: [{ role: 'operator', services: ['manager'] }] },
  owen: { id: 'U0OWEN', about: 'operator of manager, asked for the restore.sh run', grants: [{ role: 'operator', services: ['manager'] }] },
  dora: { id: 'U0DORA', about: 'deployer of web, asked for the web deploy', grants: [{ role: 'deployer', services: ['web'] }] },
  april: { id: 'U0APRIL', about: 'approver of web', grants: [{ role: 'approver', services: ['web'] }] },
  aaron: { id: 'U0AARON', about: 'approver of web in #dev only', grants: [{ role: 'approver', services: ['web'], channels: [DEV] }] },
  rita: { id: 'U0RITA', about: 'viewer of web, removable by the admin of web', grants: [{ role: 'viewer', services: ['web'] }] },
  nina: { id: 'U0NINA', about: 'no grant yet (is given some)' },
  max: { id: 'U0MAX', about: 'no grant yet (is given two)' },
  gone: { id: 'U0GONE', about: 'deactivated', deactivated: true },
  sally: { id: 'U0SALLY', about: 'viewer of the services labelled env=staging', grants: [{ role: 'viewer', services: [], selectors: ['env=staging'] }] },
  pat: { id: 'U0PAT', about: 'admin of the services labelled team=payments', grants: [{ role: 'admin', services: [], selectors: ['team=payments'] }] },
  sid: { id: 'U0SID', about: 'no grant yet (is given selectors)' },
  // Given `web` when the alias named another service (a discovered one, src/commands/allow.ts binds it): it covers nothing now.
  vera: {
    id: 'U0VERA',
    about: 'viewer of web, bound to a service web no longer names',
    grants: [{ role: 'viewer', services: ['web'], pins: { web: 'another-svc0' } }],
  },
  outsider: {
    id: 'U0OUTSIDER',
    about: `admin of everything in ${OTHER_TEAM}`,
    slackTeam: OTHER_TEAM,
    grantsTeam: OTHER_TEAM,
    grants: [{ role: 'admin', services: ['*'] }],
  },
} satisfies Record<string, Person>;
type Who = keyof typeof PEOPLE;
const person = (who: Who): Person => PEOPLE[who];

/**
 * Every way a request reaches the bot: over HTTP (the Lambda ingress) and over Socket Mode (the
 * Bolt listeners of src/ingress/bolt-listeners.ts, over the same core).
 */
const COMMAND_ENTRY_POINTS = [
  'slash',
  'rerun button',
  'cancel button',
  'notify button',
  'socket command',
  'socket rerun button',
  'socket cancel button',
  'socket notify button',
] as const;
const REACTION_ENTRY_POINTS = ['reaction added', 'reaction removed', 'socket reaction added', 'socket reaction removed'] as const;
const ENTRY_POINTS = [...COMMAND_ENTRY_POINTS, ...REACTION_ENTRY_POINTS] as const;
type CommandVia = (typeof COMMAND_ENTRY_POINTS)[number];
type ReactionVia = (typeof REACTION_ENTRY_POINTS)[number];
type Via = CommandVia | ReactionVia;
/** Which Socket Mode entry point each Bolt listener is. */
const SOCKET_LISTENERS: Record<string, Via> = {
  'command /ecs': 'socket command',
  [`action ${RERUN_ACTION}`]: 'socket rerun button',
  [`action ${CANCEL_ACTION}`]: 'socket cancel button',
  // The buttons under a notification (src/slack/actions.ts, notificationButtons): one entry point, one listener each.
  [`action ${NOTIFY_STATUS_ACTION}`]: 'socket notify button',
  [`action ${NOTIFY_LOGS_ACTION}`]: 'socket notify button',
  [`action ${NOTIFY_VERIFY_ACTION}`]: 'socket notify button',
  [`action ${NOTIFY_ROLLBACK_ACTION}`]: 'socket notify button',
  [`action ${NOTIFY_MUTE_ACTION}`]: 'socket notify button',
  'event reaction_added': 'socket reaction added',
  'event reaction_removed': 'socket reaction removed',
};

type Decision = AuditRecord['decision'];

interface CommandRow {
  who: Who;
  /** What follows `/ecs`; `{run}` stands for the id of the pending restore.sh run. */
  text: string;
  channel?: string;
  team?: string;
  /** Default: the slash command over HTTP. */
  via?: CommandVia[];
  /** The audit record's decision once the request is done (the worker may turn `allowed` into `denied`). */
  expect: Decision;
  /** The audit outcome once done; by default `answered` (ack verbs), `refused` (denials), anything but `refused` (worker verbs left running). */
  outcome?: AuditOutcome;
  /** What the person is told at once (default for requests handed to the worker: "⏳ Working on …"). */
  says?: string | RegExp;
  /** Names the answer must not show (what the person may not learn). */
  hides?: string[];
  /** The audit record's reason. */
  reason?: string;
  /** The worker's answer: waits for the worker to finish and reads its thread (parent and replies). */
  thread?: string | RegExp;
  /**
   * The worker's private answer (through the response_url, nothing posted in the channel): waits
   * for the worker to finish and reads what it told the person.
   */
  privately?: string | RegExp;
  /** The request changes the allowlist (checked by `then`); every other row checks it does not. */
  changes?: true;
  /** No AWS call at all while the request is handled. */
  noAws?: true;
  /** Further checks once the row is done. */
  then?: () => Promise<void>;
}

interface ReactionRow {
  who: Who;
  /** The request reacted on: dora's deploy of web, or owen's run of restore.sh (on manager). */
  on: 'deploy' | 'run';
  emoji?: string;
  team?: string;
  via: ReactionVia[];
  expect: Decision;
  reason: string;
  /** What the person is told (an ephemeral note, or a note in the request's thread); absent: nothing. */
  says?: string;
}

type Row = CommandRow | ReactionRow;
const isReaction = (row: Row): row is ReactionRow => 'on' in row;

const NOT_ON_ALLOWLIST = { expect: 'denied', says: '🚫 Not allowed: you are not on the allowlist', reason: 'you are not on the allowlist' } as const;
const WORKSPACE_NOT_CONFIGURED = {
  expect: 'denied',
  says: `This bot is not set up for this Slack workspace (\`${UNKNOWN_TEAM}\`)`,
  reason: 'workspace not configured',
} as const;
/** A name outside the person's grants: answered exactly like an unknown one, audited as the denial it is. */
const hidden = (says: string) => ({ expect: 'denied', says, reason: `no role here on what the request names (answered as unknown): ${says}` }) as const;
const refused = (reason: string) => ({ expect: 'denied', says: `🚫 Not allowed: ${reason}`, reason }) as const;
const invalid = (says: string) => ({ expect: 'invalid', says, reason: says }) as const;
/** A run this person may not cancel: answered exactly like no run (nothing about it is told), audited as denied. */
const hiddenRun = (reason: string) => ({ expect: 'denied', says: 'No run `{run}` is in progress (it may have finished already).', reason }) as const;
/** Bad input the worker finds (a selection matching nothing of theirs): told privately before anything is posted, audited as invalid. */
const invalidPrivately = (told: string | RegExp, reason: string) => ({ expect: 'invalid', outcome: 'refused', privately: told, reason }) as const;
/** Refused by the worker, which checks the thing it acts on with fresh data. */
const refusedInWorker = (reason: string) =>
  ({ expect: 'denied', outcome: 'refused', thread: `🚫 Not allowed: ${reason}. Nothing was changed.`, reason: `not allowed: ${reason}` }) as const;

const SERVICE_NAMES = ['web', 'broken', 'manager', 'web-bg', 'web-canary', 'web-linear', 'legacy'];
const SCRIPT_NAMES = ['backup.sh', 'restore.sh', 'slow.sh', 'fail.sh'];
const ALL_NAMES = [...SERVICE_NAMES, ...SCRIPT_NAMES].map((n) => `\`${n}\``);
const WHERE = ' in <#C0OPS>';
const ELEVEN_CHANNELS = Array.from({ length: 11 }, (_, i) => `C0CH${i}`).join(',');

const SECTIONS: Array<[string, Row[]]> = [
  [
    'help and whoami: anyone in a configured workspace',
    [
      {
        who: 'mallory',
        text: 'help',
        via: ['slash', 'rerun button', 'socket command', 'socket rerun button'],
        expect: 'allowed',
        says: '*ecs-chatops* operates Amazon ECS services from Slack',
      },
      { who: 'mallory', text: 'help deploy', expect: 'allowed', says: '*/ecs deploy &lt;service&gt;' },
      { who: 'victor', text: 'help nosuch', ...invalid('Unknown command `nosuch`.') },
      { who: 'alice', text: 'help', team: UNKNOWN_TEAM, via: ['slash', 'rerun button', 'socket command'], ...WORKSPACE_NOT_CONFIGURED },
      {
        who: 'mallory',
        text: 'whoami',
        via: ['slash', 'rerun button', 'socket command', 'socket rerun button'],
        expect: 'allowed',
        says: 'you are not on the allowlist, so you may use `/ecs help` and `/ecs whoami` only',
      },
      { who: 'victor', text: 'whoami', expect: 'allowed', says: 'Your grants:\n• *viewer* on `web`' },
      { who: 'carl', text: 'whoami', channel: DEV, expect: 'allowed', says: '• *admin* on `web`, only in <#C0OPS>' },
      { who: 'alice', text: 'whoami', team: OTHER_TEAM, via: ['slash', 'socket command'], expect: 'allowed', says: 'you are not on the allowlist' },
      { who: 'mallory', text: 'whoami', team: UNKNOWN_TEAM, via: ['slash', 'socket command'], ...WORKSPACE_NOT_CONFIGURED },
    ],
  ],
  [
    'services: read somewhere here; lists only the services one holds a role on here',
    [
      { who: 'alice', text: 'services', via: ['slash', 'socket command'], expect: 'allowed', says: /`web` —[\s\S]*`broken` —[\s\S]*`manager` —/ },
      {
        who: 'victor',
        text: 'services',
        via: ['slash', 'rerun button'],
        expect: 'allowed',
        says: '*Your services here*\n• `web` —',
        hides: ['`manager`', '`broken`'],
      },
      { who: 'oscar', text: 'services', expect: 'allowed', says: '• `manager` —', hides: ['`web`', '`broken`'] },
      { who: 'olga', text: 'services', channel: DEV, expect: 'allowed', says: '• `manager` —', hides: ['`web`', '`broken`'] },
      { who: 'olga', text: 'services', ...refused('your `operator` role is not valid in this channel') },
      { who: 'carl', text: 'services', channel: DEV, via: ['slash', 'socket command'], ...refused('your `admin` role is not valid in this channel') },
      { who: 'mallory', text: 'services', via: ['slash', 'rerun button', 'socket command'], ...NOT_ON_ALLOWLIST, hides: ALL_NAMES },
      { who: 'alice', text: 'services', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'services', team: UNKNOWN_TEAM, ...WORKSPACE_NOT_CONFIGURED },
    ],
  ],
  [
    'status and verify: read on the target',
    [
      { who: 'victor', text: 'status web', via: ['slash', 'rerun button', 'socket command', 'socket rerun button', 'notify button'], expect: 'allowed' },
      {
        who: 'victor',
        text: 'status manager',
        via: ['slash', 'rerun button', 'socket command'],
        ...hidden('Unknown service `manager`, or not one of yours. Yours here: `web`.'),
      },
      { who: 'victor', text: 'status broken', ...hidden('Unknown service `broken`, or not one of yours. Yours here: `web`.') },
      { who: 'victor', text: 'status wbe', ...invalid('Unknown service `wbe`, or not one of yours. Did you mean `web`? Yours here: `web`.') },
      { who: 'victor', text: 'status', ...invalid('Which service? Choose one of `web`.') },
      { who: 'oscar', text: 'status manager', expect: 'allowed' },
      { who: 'oscar', text: 'status web', ...hidden('Unknown service `web`, or not one of yours. Yours here: `manager`.') },
      { who: 'olga', text: 'status manager', channel: DEV, via: ['slash', 'rerun button'], expect: 'allowed' },
      {
        who: 'olga',
        text: 'status manager',
        via: ['slash', 'rerun button'],
        ...hidden('Unknown service `manager`, or not one of yours.'),
        hides: ['Yours here'],
      },
      { who: 'dora', text: 'status web', expect: 'allowed' },
      { who: 'april', text: 'status web', expect: 'allowed' },
      { who: 'carl', text: 'status web', expect: 'allowed' },
      { who: 'carl', text: 'status web', channel: DEV, ...hidden('Unknown service `web`, or not one of yours.') },
      { who: 'mallory', text: 'status web', via: ['slash', 'rerun button', 'socket command', 'socket rerun button'], ...NOT_ON_ALLOWLIST },
      { who: 'mallory', text: 'status wbe', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST, hides: ALL_NAMES },
      { who: 'alice', text: 'status web', team: OTHER_TEAM, via: ['slash', 'rerun button', 'socket command'], ...NOT_ON_ALLOWLIST },
      {
        who: 'alice',
        text: 'status web',
        team: UNKNOWN_TEAM,
        via: ['slash', 'rerun button', 'socket command', 'socket rerun button'],
        ...WORKSPACE_NOT_CONFIGURED,
      },
      { who: 'alice', text: 'status constructor', noAws: true, ...invalid('Unknown service `constructor`, or not one of yours.') },
      { who: 'alice', text: 'status __proto__', noAws: true, ...invalid('Unknown service `__proto__`, or not one of yours.') },
      { who: 'victor', text: 'verify web', via: ['slash', 'socket notify button'], expect: 'allowed' },
      { who: 'dora', text: 'verify web --image v1.5.0', via: ['socket command'], expect: 'allowed' },
      {
        who: 'victor',
        text: 'verify manager',
        via: ['slash', 'socket rerun button'],
        ...hidden('Unknown service `manager`, or not one of yours. Yours here: `web`.'),
      },
      { who: 'oscar', text: 'verify web', ...hidden('Unknown service `web`, or not one of yours. Yours here: `manager`.') },
      { who: 'olga', text: 'verify manager', ...hidden('Unknown service `manager`, or not one of yours.') },
      { who: 'victor', text: 'verify web --image bad;image', ...invalid('`bad;image` is not an image or a tag.') },
      { who: 'mallory', text: 'verify web', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'verify web', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'job: run on the job’s target (and the job, for a grant limited to scripts)',
    [
      // bulk-import cannot be placed: allowed, and over at once (RunTask answers failures[]).
      { who: 'wanda', text: 'job bulk-import', via: ['slash', 'socket command'], expect: 'allowed' },
      { who: 'victor', text: 'job migrate', via: ['slash', 'rerun button'], ...hidden('Unknown job `migrate`, or not one of yours.') },
      { who: 'oscar', text: 'job migrate', ...hidden('Unknown job `migrate`, or not one of yours.') },
      { who: 'omar', text: 'job migrate', ...hidden('Unknown job `migrate`, or not one of yours.') },
      { who: 'alice', text: 'job migrat', ...invalid('Unknown job `migrat`, or not one of yours. Did you mean `migrate`?') },
      { who: 'alice', text: 'job __proto__', noAws: true, ...invalid('Unknown job `__proto__`, or not one of yours.') },
      { who: 'alice', text: 'job migrate "$(id)"', ...invalid('does not match') },
      { who: 'mallory', text: 'job migrate', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'jobs: anyone on the allowlist; lists only what they may start here',
    [
      { who: 'wanda', text: 'jobs', expect: 'allowed', says: /`\/ecs job migrate \[version\]`[\s\S]*`\/ecs job migrate-broken`/ },
      { who: 'victor', text: 'jobs', expect: 'allowed', says: 'You may not start any job in this channel.', hides: ['`migrate`'] },
      { who: 'mallory', text: 'jobs', ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'run: run on the target and the script',
    [
      { who: 'oscar', text: 'run backup.sh nightly', via: ['slash', 'socket command'], expect: 'allowed' },
      {
        who: 'oscar',
        text: `run restore.sh ${RESTORE_ARG}`,
        via: ['slash', 'rerun button', 'socket command'],
        ...hidden('Unknown script `restore.sh`, or not one of yours.'),
        says: 'Unknown script `restore.sh`, or not one of yours. Scripts you may run: `backup.sh`.',
      },
      {
        who: 'oscar',
        text: 'run fail.sh',
        ...hidden('Unknown script `fail.sh`, or not one of yours.'),
        says: 'Unknown script `fail.sh`, or not one of yours. Scripts you may run: `backup.sh`.',
      },
      { who: 'olga', text: 'run fail.sh', channel: DEV, via: ['slash', 'socket rerun button'], expect: 'allowed' },
      {
        who: 'olga',
        text: 'run backup.sh nightly',
        via: ['slash', 'rerun button'],
        ...hidden('Unknown script `backup.sh`, or not one of yours.'),
        says: 'Unknown script `backup.sh`, or not one of yours. You may not run any script here: that needs the `operator` role.',
      },
      { who: 'omar', text: 'run fail.sh', via: ['rerun button'], expect: 'allowed' },
      { who: 'alice', text: 'run fail.sh', via: ['socket command'], expect: 'allowed' },
      {
        who: 'victor',
        text: 'run backup.sh nightly',
        via: ['slash', 'rerun button', 'socket command'],
        ...hidden('Unknown script `backup.sh`, or not one of yours.'),
        says: 'Unknown script `backup.sh`, or not one of yours. You may not run any script here: that needs the `operator` role.',
      },
      { who: 'dora', text: 'run fail.sh', ...hidden('Unknown script `fail.sh`, or not one of yours.'), says: 'You may not run any script here' },
      { who: 'april', text: 'run fail.sh', ...hidden('Unknown script `fail.sh`, or not one of yours.'), says: 'You may not run any script here' },
      { who: 'wanda', text: 'run fail.sh', ...hidden('Unknown script `fail.sh`, or not one of yours.'), says: 'You may not run any script here' },
      { who: 'carl', text: 'run fail.sh', ...hidden('Unknown script `fail.sh`, or not one of yours.'), says: 'You may not run any script here' },
      { who: 'alice', text: 'run backp.sh x', ...invalid('Unknown script `backp.sh`, or not one of yours. Did you mean `backup.sh`?') },
      { who: 'alice', text: 'run __proto__', noAws: true, ...invalid('Unknown script `__proto__`, or not one of yours.') },
      { who: 'alice', text: 'run toString', noAws: true, ...invalid('Unknown script `toString`, or not one of yours.') },
      { who: 'alice', text: 'run backup.sh "$(id)"', ...invalid('does not match') },
      { who: 'mallory', text: 'run backp.sh', via: ['slash', 'rerun button', 'socket command'], ...NOT_ON_ALLOWLIST, hides: ALL_NAMES },
      { who: 'mallory', text: 'run backup.sh nightly', ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'run fail.sh', team: OTHER_TEAM, via: ['slash', 'socket rerun button'], ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'deploy, rollback and scale: deploy on the target',
    [
      { who: 'dora', text: 'deploy web v1.5.0', via: ['slash', 'socket command'], expect: 'allowed', says: 'the approval request will appear in this channel' },
      { who: 'wanda', text: 'deploy web v1.5.0', expect: 'allowed', says: 'the approval request will appear in this channel' },
      { who: 'carl', text: 'deploy web --redeploy', via: ['rerun button'], expect: 'allowed', says: 'the approval request will appear in this channel' },
      { who: 'carl', text: 'deploy web v1.5.0', channel: DEV, ...hidden('Unknown service `web`, or not one of yours.') },
      {
        who: 'victor',
        text: 'deploy web v1.5.0',
        via: ['slash', 'rerun button', 'socket command', 'socket rerun button'],
        ...refused('you need the `deployer` role for service `web`'),
      },
      { who: 'april', text: 'deploy web v1.5.0', ...refused('you need the `deployer` role for service `web`') },
      { who: 'oscar', text: 'deploy manager --redeploy', ...refused('you need the `deployer` role for service `manager`') },
      { who: 'dora', text: 'deploy manager --redeploy', ...hidden('Unknown service `manager`, or not one of yours. Yours here: `web`.') },
      { who: 'dora', text: 'deploy web v1;rm', ...invalid('`v1;rm` is not an image or a tag.') },
      { who: 'mallory', text: 'deploy web v1.5.0', via: ['slash', 'rerun button'], ...NOT_ON_ALLOWLIST },
      {
        who: 'dora',
        text: 'rollback web',
        via: ['slash', 'socket rerun button', 'notify button'],
        expect: 'allowed',
        says: 'the approval request will appear in this channel',
      },
      // A viewer's click on Rollback under a notification: refused privately, like the command.
      { who: 'victor', text: 'rollback web', via: ['notify button', 'socket notify button'], ...refused('you need the `deployer` role for service `web`') },
      { who: 'victor', text: 'rollback web', via: ['slash', 'socket command'], ...refused('you need the `deployer` role for service `web`') },
      { who: 'oscar', text: 'rollback manager', ...refused('you need the `deployer` role for service `manager`') },
      { who: 'dora', text: 'rollback broken', ...hidden('Unknown service `broken`, or not one of yours. Yours here: `web`.') },
      { who: 'dora', text: 'rollback web abc', ...invalid('`abc` is not a revision') },
      { who: 'mallory', text: 'rollback web', ...NOT_ON_ALLOWLIST },
      { who: 'dora', text: 'rollback web', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
      // `/ecs scale`: deploy on the target too.
      { who: 'dora', text: 'scale web 4', via: ['slash', 'socket command'], expect: 'allowed', says: 'the approval request (if one is needed) will appear' },
      { who: 'victor', text: 'scale web 4', ...refused('you need the `deployer` role for service `web`') },
      { who: 'dora', text: 'scale broken 4', ...hidden('Unknown service `broken`, or not one of yours. Yours here: `web`.') },
      { who: 'dora', text: 'scale web -4', ...invalid('`-4` is not a task count') },
      { who: 'mallory', text: 'scale web 4', ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'scripts: anyone on the allowlist; lists only what they may run here',
    [
      {
        who: 'alice',
        text: 'scripts',
        expect: 'allowed',
        says: /`\/ecs run backup.sh &lt;label&gt;`[\s\S]*`\/ecs run restore.sh[\s\S]*`\/ecs run slow.sh[\s\S]*`\/ecs run fail.sh`/,
      },
      {
        who: 'oscar',
        text: 'scripts',
        via: ['slash', 'socket command'],
        expect: 'allowed',
        says: '`/ecs run backup.sh &lt;label&gt;`',
        hides: ['restore.sh', 'slow.sh', 'fail.sh'],
      },
      { who: 'olga', text: 'scripts', channel: DEV, expect: 'allowed', says: /backup.sh[\s\S]*restore.sh[\s\S]*slow.sh[\s\S]*fail.sh/ },
      {
        who: 'olga',
        text: 'scripts',
        via: ['slash', 'rerun button'],
        expect: 'allowed',
        says: 'You may not run any script in this channel.',
        hides: ALL_NAMES,
      },
      { who: 'victor', text: 'scripts', expect: 'allowed', says: 'You may not run any script in this channel.', hides: ALL_NAMES },
      { who: 'mallory', text: 'scripts', via: ['slash', 'rerun button', 'socket command'], ...NOT_ON_ALLOWLIST, hides: ALL_NAMES },
      { who: 'alice', text: 'scripts', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST, hides: ALL_NAMES },
    ],
  ],
  [
    'allowlist: admins, shown only the grants within their scope',
    [
      { who: 'alice', text: 'allowlist', expect: 'allowed', says: /<@U0ALICE>: \*operator\* on all services[\s\S]*<@U0BOB>[\s\S]*<@U0OSCAR>/ },
      {
        who: 'wanda',
        text: 'allowlist',
        via: ['slash', 'rerun button', 'socket command'],
        expect: 'allowed',
        says: /<@U0VICTOR>: \*viewer\* on `web`[\s\S]*<@U0WANDA>: \*admin\* on `web`/,
        hides: ['<@U0ALICE>', '<@U0BOB>', '<@U0OSCAR>', '<@U0OMAR>', 'all services', '`manager`'],
      },
      {
        who: 'carl',
        text: 'allowlist',
        expect: 'allowed',
        says: '<@U0CARL>: *admin* on `web`, only in <#C0OPS>',
        hides: ['<@U0ALICE>', '<@U0VICTOR>', '<@U0WANDA>', '<@U0BOB>'],
      },
      { who: 'carl', text: 'allowlist', channel: DEV, ...refused('your `admin` role is not valid in this channel') },
      { who: 'victor', text: 'allowlist', via: ['slash', 'socket rerun button'], ...refused('you need the `admin` role') },
      { who: 'april', text: 'allowlist', ...refused('you need the `admin` role') },
      { who: 'mallory', text: 'allowlist', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'allowlist', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'allow: admins, only within their own admin grants (services and channels)',
    [
      {
        who: 'alice',
        text: 'allow <@U0NINA|nina> viewer web',
        expect: 'allowed',
        outcome: 'success',
        thread: '<@U0NINA> now has:\n• *viewer* on `web`',
        changes: true,
        then: () => expectGrants('nina', [{ role: 'viewer', services: ['web'] }]),
      },
      {
        who: 'wanda',
        text: 'allow <@U0NINA> operator web',
        via: ['socket command'],
        expect: 'allowed',
        outcome: 'success',
        thread: '• *operator* on `web`',
        changes: true,
        then: () =>
          expectGrants('nina', [
            { role: 'viewer', services: ['web'] },
            { role: 'operator', services: ['web'] },
          ]),
      },
      {
        who: 'carl',
        text: 'allow <@U0NINA> deployer web --channels <#C0OPS|ops>',
        expect: 'allowed',
        outcome: 'success',
        // Carl administers only grants limited to #ops: nina's others are counted, not shown.
        thread: /<@U0NINA> now has:\n• \*deployer\* on `web`, only in <#C0OPS>\n• and 2 grants outside your scope/,
        changes: true,
        then: () =>
          expectGrants('nina', [
            { role: 'viewer', services: ['web'] },
            { role: 'operator', services: ['web'] },
            { role: 'deployer', services: ['web'], channels: [OPS] },
          ]),
      },
      {
        who: 'alice',
        text: 'allow <@U0NINA> viewer web',
        expect: 'allowed',
        outcome: 'warning',
        thread: '<@U0NINA> already has *viewer* on `web`. Nothing changed.',
      },
      // Escalation: a scoped admin makes herself a global admin.
      {
        who: 'wanda',
        text: 'allow <@U0WANDA|wanda> admin *',
        via: ['slash', 'rerun button', 'socket command', 'socket rerun button'],
        ...refused('your `admin` role does not cover every service'),
      },
      { who: 'wanda', text: 'allow <@U0NINA> admin', ...refused('your `admin` role does not cover every service') },
      { who: 'wanda', text: 'allow <@U0NINA> viewer web manager', ...hidden('Unknown service `manager`, or not one of yours. Yours here: `web`.') },
      { who: 'wanda', text: 'allow <@U0NINA> viewer web api', ...invalid('Unknown service `api`, or not one of yours.') },
      { who: 'wanda', text: 'allow <@U0NINA> operator manager --scripts backup.sh', ...hidden('Unknown service `manager`, or not one of yours.') },
      { who: 'wanda', text: 'allow <@U0NINA> operator web --scripts backup.sh', ...hidden('Unknown script `backup.sh`, or not one of yours.') },
      {
        who: 'carl',
        text: 'allow <@U0NINA> viewer web',
        via: ['slash', 'socket command'],
        ...refused('your `admin` role for service `web` does not reach every channel'),
      },
      {
        who: 'carl',
        text: 'allow <@U0NINA> viewer web --channels <#C0OPS|ops>,<#C0DEV|dev>',
        ...refused('your `admin` role for service `web` does not reach all of those channels'),
      },
      // In #dev, web is not carl's to name; a grant naming no service reaches the channel check.
      { who: 'carl', text: 'allow <@U0NINA> viewer web --channels <#C0DEV|dev>', channel: DEV, ...hidden('Unknown service `web`, or not one of yours.') },
      { who: 'carl', text: 'allow <@U0NINA> viewer --channels <#C0DEV|dev>', channel: DEV, ...refused('your `admin` role is not valid in this channel') },
      { who: 'carl', text: 'allow <@U0CARL> admin web', ...refused('your `admin` role for service `web` does not reach every channel') },
      { who: 'victor', text: 'allow <@U0VICTOR> admin web', via: ['slash', 'rerun button'], ...refused('you need the `admin` role') },
      { who: 'april', text: 'allow <@U0NINA> viewer web', ...refused('you need the `admin` role') },
      { who: 'mallory', text: 'allow <@U0MALLORY> admin *', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
      { who: 'outsider', text: 'allow <@U0OUTSIDER> admin *', team: UNKNOWN_TEAM, ...WORKSPACE_NOT_CONFIGURED },
      { who: 'alice', text: 'allow <@USLACKBOT> viewer web', ...invalid('Slackbot cannot be given a role: roles are for people.') },
      {
        who: 'alice',
        text: 'allow <@U0BOT|ecs-chatops> viewer web',
        expect: 'invalid',
        outcome: 'refused',
        thread: '❌ <@U0BOT> is a bot or an app',
        reason: 'is a bot or an app',
      },
      {
        who: 'alice',
        text: 'allow <@U0GONE> viewer web',
        expect: 'invalid',
        outcome: 'refused',
        thread: '❌ <@U0GONE> is deactivated',
        reason: 'is deactivated',
      },
      {
        who: 'alice',
        text: 'allow <@U0OUTSIDER> viewer web',
        expect: 'invalid',
        outcome: 'refused',
        thread: '❌ <@U0OUTSIDER> belongs to another workspace',
        reason: 'belongs to another workspace',
      },
      {
        who: 'alice',
        text: 'allow <@U0NOBODY> viewer web',
        expect: 'invalid',
        outcome: 'refused',
        thread: '❌ <@U0NOBODY> is not a member of this workspace',
        reason: 'is not a member of this workspace',
      },
      { who: 'alice', text: 'allow <@U0NINA> operator manager --scripts nosuch.sh', ...invalid('Unknown script `nosuch.sh`, or not one of yours.') },
      { who: 'alice', text: `allow <@U0NINA> viewer web --channels ${ELEVEN_CHANNELS}`, ...invalid('`--channels` takes at most 10 names (got 11).') },
      { who: 'alice', text: 'allow <@U0NINA> viewer web --scripts backup.sh', ...invalid('`--scripts` limits an `operator` grant') },
      { who: 'alice', text: 'allow <@U0NINA> superuser web', ...invalid('Unknown role `superuser`.') },
      { who: 'alice', text: 'allow nina viewer web', ...invalid('`nina` is not a user mention.') },
      // Grants are kept as given: an operator of manager limited to backup.sh who is also an operator of web may not run restore.sh.
      {
        who: 'alice',
        text: 'allow <@U0MAX> operator manager --scripts backup.sh',
        expect: 'allowed',
        outcome: 'success',
        thread: '• *operator* on `manager`, scripts `backup.sh`',
        changes: true,
      },
      {
        who: 'alice',
        text: 'allow <@U0MAX> operator web',
        expect: 'allowed',
        outcome: 'success',
        thread: '<@U0MAX> now has:\n• *operator* on `manager`, scripts `backup.sh`\n• *operator* on `web`',
        changes: true,
        then: () =>
          expectGrants('max', [
            { role: 'operator', services: ['manager'], scripts: ['backup.sh'] },
            { role: 'operator', services: ['web'] },
          ]),
      },
      {
        who: 'max',
        text: `run restore.sh ${RESTORE_ARG}`,
        ...hidden('Unknown script `restore.sh`, or not one of yours.'),
        says: 'Unknown script `restore.sh`, or not one of yours. Scripts you may run: `backup.sh`.',
      },
      { who: 'max', text: 'run fail.sh', ...hidden('Unknown script `fail.sh`, or not one of yours.') },
      { who: 'max', text: 'scripts', expect: 'allowed', says: '`/ecs run backup.sh &lt;label&gt;`', hides: ['restore.sh', 'slow.sh', 'fail.sh'] },
      { who: 'max', text: 'services', expect: 'allowed', says: /`web` —[\s\S]*`manager` —/, hides: ['`broken`'] },
    ],
  ],
  [
    'deny: admins, only of people whose grants all lie within their scope; nobody removes themselves',
    [
      {
        who: 'wanda',
        text: 'deny <@U0ALICE|alice>',
        via: ['slash', 'socket command'],
        ...refusedInWorker('that person has grants beyond your scope'),
        then: () => expectGrants('alice', SEED_ALLOWLIST.find((s) => s.userId === 'U0ALICE')!.grants),
      },
      { who: 'wanda', text: 'deny <@U0BOB>', ...refusedInWorker('that person has grants beyond your scope') },
      { who: 'wanda', text: 'deny <@U0OSCAR>', via: ['rerun button'], ...refusedInWorker('that person has grants beyond your scope') },
      { who: 'carl', text: 'deny <@U0NINA>', ...refusedInWorker('that person has grants beyond your scope') },
      { who: 'carl', text: 'deny <@U0VICTOR>', via: ['socket rerun button'], ...refusedInWorker('that person has grants beyond your scope') },
      { who: 'carl', text: 'deny <@U0RITA>', channel: DEV, ...refused('your `admin` role is not valid in this channel') },
      { who: 'victor', text: 'deny <@U0RITA>', via: ['slash', 'rerun button'], ...refused('you need the `admin` role') },
      { who: 'oscar', text: 'deny <@U0RITA>', ...refused('you need the `admin` role') },
      { who: 'mallory', text: 'deny <@U0ALICE>', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
      { who: 'outsider', text: 'deny <@U0ALICE>', team: UNKNOWN_TEAM, ...WORKSPACE_NOT_CONFIGURED },
      {
        who: 'wanda',
        text: 'deny <@U0WANDA>',
        expect: 'denied',
        outcome: 'refused',
        thread: '🚫 Not allowed: you cannot remove yourself',
        reason: 'you cannot remove yourself',
      },
      {
        who: 'alice',
        text: 'deny <@U0ALICE>',
        expect: 'denied',
        outcome: 'refused',
        thread: '🚫 Not allowed: you cannot remove yourself',
        reason: 'you cannot remove yourself',
      },
      { who: 'alice', text: 'deny <@U0NOBODY>', expect: 'allowed', outcome: 'warning', thread: '<@U0NOBODY> was not on the allowlist; nothing changed.' },
      { who: 'alice', text: 'deny bob', ...invalid('`bob` is not a user mention.') },
      {
        who: 'wanda',
        text: 'deny <@U0RITA|rita>',
        expect: 'allowed',
        outcome: 'success',
        thread: '<@U0RITA> is no longer on the allowlist.',
        changes: true,
        then: async () => expect(await allowlist.get(TEAM, 'U0RITA')).toBeUndefined(),
      },
      // The removal holds at once.
      { who: 'rita', text: 'status web', ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'approve by reaction: approver (or admin) of the request’s service, valid in its channel, of its workspace, not the requester',
    [
      {
        who: 'dora',
        on: 'deploy',
        via: ['reaction added'],
        expect: 'denied',
        reason: 'the requester cannot approve their own request',
        says: 'so your :white_check_mark: does not count',
      },
      {
        who: 'victor',
        on: 'deploy',
        via: ['reaction added'],
        expect: 'denied',
        reason: 'no approver role for web in this channel',
        says: 'is ignored: approving or rejecting requests for `web` needs the `approver` role (or admin)',
      },
      {
        who: 'victor',
        on: 'deploy',
        emoji: 'x',
        via: ['reaction added'],
        expect: 'denied',
        reason: 'no approver role for web in this channel',
        says: 'Your :x: on',
      },
      {
        who: 'mallory',
        on: 'deploy',
        via: ['reaction added', 'socket reaction added'],
        expect: 'denied',
        reason: 'no approver role for web in this channel',
        says: 'is ignored',
      },
      { who: 'aaron', on: 'deploy', via: ['reaction added'], expect: 'denied', reason: 'no approver role for web in this channel', says: 'is ignored' },
      { who: 'oscar', on: 'deploy', via: ['reaction added'], expect: 'denied', reason: 'no approver role for web in this channel', says: 'is ignored' },
      {
        who: 'bob',
        on: 'deploy',
        team: OTHER_TEAM,
        via: ['reaction added', 'socket reaction added'],
        expect: 'denied',
        reason: `reaction from workspace ${OTHER_TEAM}, the request belongs to ${TEAM}`,
      },
      {
        who: 'outsider',
        on: 'deploy',
        team: OTHER_TEAM,
        via: ['reaction added'],
        expect: 'denied',
        reason: `reaction from workspace ${OTHER_TEAM}, the request belongs to ${TEAM}`,
      },
      {
        who: 'outsider',
        on: 'deploy',
        team: UNKNOWN_TEAM,
        via: ['reaction added', 'socket reaction added'],
        expect: 'denied',
        reason: 'workspace not configured',
      },
      { who: 'april', on: 'deploy', via: ['reaction added'], expect: 'allowed', reason: 'approved', says: '👍 <@U0APRIL> approved (' },
      { who: 'carl', on: 'deploy', via: ['socket reaction added'], expect: 'allowed', reason: 'approved', says: '👍 <@U0CARL> approved (' },
      { who: 'bob', on: 'deploy', via: ['reaction added'], expect: 'allowed', reason: 'approved', says: '👍 <@U0BOB> approved (' },
      { who: 'victor', on: 'deploy', via: ['reaction removed'], expect: 'denied', reason: 'no approver role for web in this channel (reaction removed)' },
      {
        who: 'mallory',
        on: 'deploy',
        via: ['socket reaction removed'],
        expect: 'denied',
        reason: 'no approver role for web in this channel (reaction removed)',
      },
      { who: 'april', on: 'deploy', via: ['reaction removed'], expect: 'allowed', reason: 'approval withdrawn', says: '↩️ <@U0APRIL> withdrew their approval' },
      {
        who: 'carl',
        on: 'deploy',
        via: ['socket reaction removed'],
        expect: 'allowed',
        reason: 'approval withdrawn',
        says: '↩️ <@U0CARL> withdrew their approval',
      },
      { who: 'owen', on: 'run', via: ['reaction added'], expect: 'denied', reason: 'the requester cannot approve their own request', says: 'does not count' },
      { who: 'april', on: 'run', via: ['reaction added'], expect: 'denied', reason: 'no approver role for manager in this channel', says: 'is ignored' },
      { who: 'omar', on: 'run', via: ['reaction added'], expect: 'denied', reason: 'no approver role for manager in this channel', says: 'is ignored' },
      { who: 'wanda', on: 'run', via: ['socket reaction added'], expect: 'denied', reason: 'no approver role for manager in this channel', says: 'is ignored' },
      { who: 'bob', on: 'run', via: ['reaction added'], expect: 'allowed', reason: 'approved', says: '👍 <@U0BOB> approved (' },
      { who: 'alice', on: 'run', via: ['socket reaction added'], expect: 'allowed', reason: 'approved', says: '👍 <@U0ALICE> approved (' },
    ],
  ],
  [
    'mute and unmute: run on the whole service (an operator’s act, whatever their script limit); logs: read on the service',
    [
      {
        who: 'omar',
        text: 'mute manager 1h',
        via: ['slash', 'socket command', 'notify button', 'socket notify button'],
        expect: 'allowed',
        says: 'it will be announced in this channel',
      },
      { who: 'oscar', text: 'mute manager 30m', expect: 'allowed' },
      { who: 'olga', text: 'mute manager 2h', channel: DEV, expect: 'allowed' },
      { who: 'olga', text: 'mute manager 2h', ...hidden('Unknown service `manager`, or not one of yours.'), hides: ['Yours here'] },
      {
        who: 'victor',
        text: 'mute web 1h',
        via: ['slash', 'notify button', 'socket notify button'],
        ...refused('you need the `operator` role for service `web`'),
      },
      { who: 'april', text: 'mute web 1h', ...refused('you need the `operator` role for service `web`') },
      { who: 'dora', text: 'mute web 1h', ...refused('you need the `operator` role for service `web`') },
      { who: 'wanda', text: 'mute web 1d maintenance', expect: 'allowed' },
      { who: 'oscar', text: 'mute web 1h', ...hidden('Unknown service `web`, or not one of yours. Yours here: `manager`.') },
      { who: 'mallory', text: 'mute web 1h', via: ['slash', 'notify button'], ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'mute web 1h', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
      { who: 'omar', text: 'mute manager 10s', noAws: true, ...invalid('`10s` is not a duration: write it like `30m`, `1h`, `2h30m` or `1d`.') },
      { who: 'omar', text: 'mute manager 8d', noAws: true, ...invalid('A mute lasts from 5 minutes to 7 days, not 8 d.') },
      { who: 'wanda', text: 'unmute web', via: ['slash', 'socket command'], expect: 'allowed' },
      { who: 'omar', text: 'unmute manager', expect: 'allowed' },
      { who: 'victor', text: 'unmute web', ...refused('you need the `operator` role for service `web`') },
      { who: 'carl', text: 'unmute web', channel: DEV, ...hidden('Unknown service `web`, or not one of yours.') },
      { who: 'victor', text: 'logs web', via: ['slash', 'socket command', 'notify button', 'socket notify button'], expect: 'allowed' },
      { who: 'oscar', text: 'logs manager --lines 5', expect: 'allowed' },
      { who: 'victor', text: 'logs manager', ...hidden('Unknown service `manager`, or not one of yours. Yours here: `web`.') },
      { who: 'victor', text: 'logs web --lines 500', noAws: true, ...invalid('`--lines` is a number from 1 to 200, not `500`.') },
      { who: 'mallory', text: 'logs web', via: ['slash', 'socket notify button'], ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'logs web', team: UNKNOWN_TEAM, via: ['slash', 'notify button'], ...WORKSPACE_NOT_CONFIGURED },
    ],
  ],
  [
    'history: read on the service (a script’s or job’s) named; without one, any role here, each row checked on its own service',
    [
      { who: 'victor', text: 'history web', expect: 'allowed', thread: /\*History of `web`\*/ },
      { who: 'victor', text: 'history --since 7d', expect: 'allowed', thread: /\*History of everything you may see\*, the last week/ },
      { who: 'oscar', text: 'history backup.sh --user <@U0OMAR|omar>', expect: 'allowed', thread: /\*History of `backup.sh` by <@U0OMAR>\*/ },
      { who: 'victor', text: 'history manager', ...hidden('Unknown service, script or job `manager`, or not one of yours. Your services here: `web`.') },
      { who: 'victor', text: 'history backup.sh', ...hidden('Unknown service, script or job `backup.sh`, or not one of yours. Your services here: `web`.') },
      { who: 'carl', text: 'history', channel: DEV, ...refused('your `admin` role is not valid in this channel') },
      { who: 'victor', text: 'history web --since 100d', noAws: true, ...invalid('`--since` reaches back at most 90 days, not 100 days.') },
      { who: 'alice', text: 'history constructor', noAws: true, ...invalid('Unknown service, script or job `constructor`, or not one of yours.') },
      { who: 'mallory', text: 'history web', ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'schedules: any role here lists the schedules of the services it covers; pause and resume need admin on the schedule’s service',
    [
      { who: 'omar', text: 'schedules', expect: 'allowed', thread: /`nightly-backup`: `\/ecs run backup\.sh nightly`/ },
      { who: 'victor', text: 'schedules', expect: 'allowed', thread: /No schedules on the services you hold a role on here/ },
      { who: 'omar', text: 'schedules pause nightly-backup', noAws: true, ...refused('you need the `admin` role for service `manager`') },
      { who: 'wanda', text: 'schedules pause nightly-backup', noAws: true, ...hidden('Unknown schedule `nightly-backup`, or not one of yours.') },
      { who: 'omar', text: 'schedules pause', noAws: true, ...invalid('`pause` needs the schedule’s name.') },
      { who: 'alice', text: 'schedules pause nightly-backup', expect: 'allowed', thread: /⏸️ Paused `nightly-backup`/ },
      { who: 'alice', text: 'schedules resume nightly-backup', expect: 'allowed', thread: /▶️ Resumed `nightly-backup`/ },
      { who: 'mallory', text: 'schedules', ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'cancel: run, checked against the run’s service, script, channel and workspace; the run’s owner may always cancel it',
    [
      {
        who: 'oscar',
        text: 'cancel {run}',
        via: ['slash', 'cancel button', 'socket command', 'socket cancel button'],
        ...hiddenRun('your `operator` role does not cover service `manager`, script `restore.sh`'),
        then: expectRunNotCancelled,
      },
      {
        who: 'olga',
        text: 'cancel {run}',
        channel: DEV,
        via: ['slash', 'cancel button', 'socket cancel button'],
        ...hiddenRun('your `operator` role for service `manager`, script `restore.sh` is not valid in this channel'),
        then: expectRunNotCancelled,
      },
      {
        who: 'olga',
        text: 'cancel {run}',
        via: ['slash', 'cancel button'],
        ...refused('your `operator` role is not valid in this channel'),
        then: expectRunNotCancelled,
      },
      {
        who: 'wanda',
        text: 'cancel {run}',
        ...hiddenRun('your `operator` role does not cover service `manager`, script `restore.sh`'),
        then: expectRunNotCancelled,
      },
      {
        who: 'victor',
        text: 'cancel {run}',
        via: ['slash', 'cancel button', 'socket cancel button'],
        ...refused('you need the `operator` role'),
        then: expectRunNotCancelled,
      },
      { who: 'dora', text: 'cancel {run}', ...refused('you need the `operator` role'), then: expectRunNotCancelled },
      { who: 'mallory', text: 'cancel {run}', via: ['slash', 'cancel button', 'socket command'], ...NOT_ON_ALLOWLIST, then: expectRunNotCancelled },
      // Another workspace's admin: a run of this workspace is answered like no run at all.
      {
        who: 'outsider',
        text: 'cancel {run}',
        team: OTHER_TEAM,
        via: ['slash', 'cancel button', 'socket cancel button'],
        expect: 'denied',
        says: 'No run `{run}` is in progress',
        reason: 'belongs to workspace',
        then: expectRunNotCancelled,
      },
      { who: 'owen', text: 'cancel {run}', team: OTHER_TEAM, via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST, then: expectRunNotCancelled },
      { who: 'owen', text: 'cancel {run}', team: UNKNOWN_TEAM, via: ['cancel button'], ...WORKSPACE_NOT_CONFIGURED, then: expectRunNotCancelled },
      { who: 'omar', text: 'cancel zzzzzz', expect: 'allowed', says: 'No run `zzzzzz` is in progress' },
      { who: 'omar', text: 'cancel NOPE!', via: ['slash', 'cancel button'], ...invalid('A run id looks like `k3x9q2`') },
      // The owner keeps the right to cancel their run after their role no longer covers it.
      { who: 'alice', text: 'deny <@U0OWEN>', expect: 'allowed', outcome: 'success', thread: '<@U0OWEN> is no longer on the allowlist.', changes: true },
      {
        who: 'alice',
        text: 'allow <@U0OWEN> operator manager --scripts backup.sh',
        expect: 'allowed',
        outcome: 'success',
        thread: '• *operator* on `manager`, scripts `backup.sh`',
        changes: true,
        then: () => expectGrants('owen', [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]),
      },
      { who: 'owen', text: `run restore.sh ${RESTORE_ARG}`, ...hidden('Unknown script `restore.sh`, or not one of yours.') },
      {
        who: 'owen',
        text: 'cancel {run}',
        via: ['cancel button'],
        expect: 'allowed',
        says: '🛑 Cancelled run `{run}` (`restore.sh`, asked by <@U0OWEN>) while it waits for its approval',
        then: async () => expect(await state.get(`cancel#${fixtures.runId}`)).toMatchObject({ by: 'U0OWEN' }),
      },
      { who: 'omar', text: 'cancel {run}', via: ['slash', 'socket cancel button'], expect: 'allowed', says: 'Run `{run}` is already being cancelled.' },
      { who: 'alice', text: 'cancel {run}', via: ['socket command'], expect: 'allowed', says: 'Run `{run}` is already being cancelled.' },
    ],
  ],
  [
    'selectors: a grant on a selector covers the services whose labels match, and an admin on one grants only within it',
    [
      { who: 'sally', text: 'status manager', via: ['slash', 'socket command'], expect: 'allowed' },
      { who: 'sally', text: 'status web', ...hidden('Unknown service `web`, or not one of yours. Yours here: `manager`.') },
      { who: 'sally', text: 'deploy manager v2', ...refused('you need the `deployer` role for service `manager`') },
      {
        who: 'sally',
        text: 'services env=staging',
        expect: 'allowed',
        says: '*1 of your services here match `env=staging`*\n• `manager` —',
        hides: ['`web`', '`broken`'],
      },
      // Nothing of hers is prod: told so with her labels only, never that web is.
      { who: 'sally', text: 'services env=prod', expect: 'allowed', says: 'No service of yours here matches `env=prod`', hides: ['`web`', 'prod`,'] },
      { who: 'sally', text: 'whoami', expect: 'allowed', says: '• *viewer* on services matching `env=staging`' },
      { who: 'vera', text: 'status web', via: ['slash', 'socket command'], ...hidden('Unknown service `web`, or not one of yours.') },
      { who: 'alice', text: 'allow <@U0SID> viewer env=', ...invalid('`env=` is not a valid selector: the key `env` has an empty value.') },
      {
        who: 'pat',
        text: 'allow <@U0SID|sid> viewer team=payments,env=prod',
        expect: 'allowed',
        outcome: 'success',
        thread: '<@U0SID> now has:\n• *viewer* on services matching `env=prod,team=payments`',
        changes: true,
        then: () => expectGrants('sid', [{ role: 'viewer', services: [], selectors: ['env=prod,team=payments'] }]),
      },
      { who: 'pat', text: 'allow <@U0SID> viewer env=prod', ...refused('your `admin` role does not cover services matching `env=prod`') },
      {
        who: 'pat',
        text: 'allow <@U0SID> viewer team=payments|search',
        ...refused('your `admin` role does not cover services matching `team=payments|search`'),
      },
      { who: 'pat', text: 'allow <@U0SID> viewer', ...refused('your `admin` role does not cover every service') },
      { who: 'pat', text: 'allow <@U0SID> viewer broken', ...hidden('Unknown service `broken`, or not one of yours.') },
      {
        who: 'pat',
        text: 'allow <@U0SID> operator manager',
        expect: 'allowed',
        outcome: 'success',
        thread: '• *operator* on `manager`',
        changes: true,
        then: () =>
          expectGrants('sid', [
            { role: 'viewer', services: [], selectors: ['env=prod,team=payments'] },
            { role: 'operator', services: ['manager'] },
          ]),
      },
      { who: 'sid', text: 'status web', expect: 'allowed' },
      { who: 'sid', text: 'status broken', ...hidden('Unknown service `broken`, or not one of yours.') },
      {
        who: 'pat',
        text: 'allowlist',
        expect: 'allowed',
        says: '<@U0SID>: *viewer* on services matching `env=prod,team=payments`; *operator* on `manager`',
        // Grants on web and manager (labelled team=payments) are hers to see; alice's and bob's on every service are not.
        hides: ['U0ALICE', 'U0BOB'],
      },
      { who: 'sally', text: 'allow <@U0SID> viewer env=staging', ...refused('you need the `admin` role') },
    ],
  ],
  [
    'services --refresh: admin of every service (the catalog names every service of the fleet)',
    [
      {
        who: 'alice',
        text: 'services --refresh',
        via: ['slash', 'socket command'],
        expect: 'allowed',
        outcome: 'success',
        thread: '*Catalog refreshed*',
      },
      { who: 'wanda', text: 'services --refresh', ...refused('your `admin` role does not cover every service') },
      // An admin by a selector holds no grant on `*`: the catalog would name services outside it.
      { who: 'pat', text: 'services --refresh', ...refused('your `admin` role does not cover every service') },
      { who: 'bob', text: 'services --refresh', via: ['slash', 'rerun button'], ...refused('you need the `admin` role') },
      { who: 'mallory', text: 'services --refresh', ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'services --refresh', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
    ],
  ],
  [
    'status and verify <selector>: read held here, then read on each selected service (a selector is no grant)',
    [
      // team=payments selects web (prod) and manager (staging): sally's viewer env=staging covers manager only.
      {
        who: 'sally',
        text: 'status team=payments',
        via: ['slash', 'socket command'],
        expect: 'allowed',
        thread: /\*Status of `team=payments`\*: 1 service\b[\s\S]*\|manager>/,
      },
      { who: 'sally', text: 'verify env=staging', expect: 'allowed', thread: /\*Verify of `env=staging`\*: 1 service\b[\s\S]*\|manager>/ },
      // Nothing of hers is prod: refused privately with her labels only, never that web is.
      {
        who: 'sally',
        text: 'status env=prod',
        ...invalidPrivately(/^❌ No service of yours here matches `env=prod`(?![\s\S]*`web`)/, 'No service of yours here matches `env=prod`'),
      },
      {
        who: 'sally',
        text: 'verify env=prod',
        ...invalidPrivately('❌ No service of yours here matches `env=prod`', 'No service of yours here matches `env=prod`'),
      },
      // Alias grants count service by service too: victor reads web, not manager.
      { who: 'victor', text: 'status *', expect: 'allowed', thread: /\*Status of `\*`\*: 1 service\b[\s\S]*\|web>/ },
      {
        who: 'victor',
        text: 'verify env=staging',
        ...invalidPrivately('❌ No service of yours here matches `env=staging`', 'No service of yours here matches `env=staging`'),
      },
      { who: 'olga', text: 'status env=staging', ...refused('your `operator` role is not valid in this channel') },
      { who: 'mallory', text: 'status env=prod', via: ['slash', 'socket command'], ...NOT_ON_ALLOWLIST },
      { who: 'mallory', text: 'verify *', ...NOT_ON_ALLOWLIST },
      { who: 'alice', text: 'verify env=prod', team: OTHER_TEAM, ...NOT_ON_ALLOWLIST },
    ],
  ],
];

// ---- cases --------------------------------------------------------------------------------------

interface CommandCase extends CommandRow {
  name: string;
  via1: CommandVia;
  channel: string;
  team: string;
}
interface ReactionCase extends ReactionRow {
  name: string;
  via1: ReactionVia;
  team: string;
}
type Case = CommandCase | ReactionCase;

const verbName = (row: Row): string => {
  if (isReaction(row)) return 'approve';
  try {
    // `services --refresh` is a form of `services` the worker answers: named as the registry picks it.
    return verbOf(row.text).name;
  } catch {
    return `(unknown: ${row.text})`;
  }
};

function casesOf(rows: Row[]): Case[] {
  return rows.flatMap((row): Case[] => {
    const who = `${row.who} (${person(row.who).about})`;
    const team = row.team ?? TEAM;
    const from = team === TEAM ? '' : ` from ${team}`;
    if (isReaction(row)) {
      const what = `:${row.emoji ?? 'white_check_mark'}: on ${row.on === 'deploy' ? 'the web deploy' : 'the restore.sh run'}`;
      return row.via.map((via1) => ({ ...row, via1, team, name: `${who} · ${via1}${from} · ${what} → ${row.expect}` }));
    }
    const channel = row.channel ?? OPS;
    const vias = row.via ?? ['slash'];
    return vias.map((via1) => ({
      ...row,
      via1,
      channel,
      team,
      name: `${who} · ${via1} in #${CHANNEL_NAMES[channel]}${from} · ${ECS} ${row.text} → ${row.expect}`,
    }));
  });
}

const ALL_ROWS = SECTIONS.flatMap(([, rows]) => rows);
const ALL_CASES = casesOf(ALL_ROWS);

// ---- the world ---------------------------------------------------------------------------------

let world: World;
let setConfig: (config: Config | undefined) => void;
let allowlist: AllowlistStore;
let state: StateStore;
let approvals: ApprovalRequests;
let ddb: typeof import('../src/platform/dynamo').ddb;
let tableName: typeof import('../src/platform/tables').tableName;
type Listener = (args: Record<string, unknown>) => Promise<void>;
/** What registerListeners registered on the fake Bolt app, by `command /ecs`, `action ecs:rerun`, `event reaction_added`. */
const socketListeners = new Map<string, Listener>();
const fixtures = { deployTs: '', runTs: '', runId: '' };
let eventCounter = 0;
let responseCounter = 0;

beforeAll(async () => {
  world = await startWorld();
  const [load, stores, stateModule, requests, dynamo, tables, { createIngress }, { productionIngressDeps }, { registerListeners }] = await Promise.all([
    import('../src/config/load'),
    import('../src/auth/allowlist'),
    import('../src/platform/state'),
    import('../src/approval/requests'),
    import('../src/platform/dynamo'),
    import('../src/platform/tables'),
    import('../src/ingress/ingress'),
    import('../src/ingress/production'),
    import('../src/ingress/bolt-listeners'),
  ]);
  setConfig = load.setConfig;
  allowlist = stores.dynamoAllowlist;
  state = stateModule.dynamoState;
  approvals = requests.dynamoApprovalRequests;
  ddb = dynamo.ddb;
  tableName = tables.tableName;

  // A second workspace served by the same bot; five approvals per request, so approvals that count change nothing else.
  const base = load.getConfig();
  const fiveApprovals = (alias: string) => ({ ...base.targets[alias]!, deploy: { ...base.targets[alias]!.deploy, approvals: 5 } });
  setConfig({
    ...base,
    slack: { ...base.slack, teams: [TEAM, OTHER_TEAM] },
    // Labels for the selector rows: web is payments' prod, manager payments' staging, broken search's dev.
    targets: {
      ...base.targets,
      web: { ...fiveApprovals('web'), labels: { env: 'prod', team: 'payments' } },
      manager: { ...fiveApprovals('manager'), labels: { env: 'staging', team: 'payments' } },
      broken: { ...base.targets.broken!, labels: { env: 'dev', team: 'search' } },
    },
  });

  // The people, in Slack and on the allowlist; #dev, a second channel with the bot in it.
  const ws = world.slack.workspace;
  ws.channels.push({ id: DEV, name: 'dev', members: [ws.bot.userId], isPrivate: false, isArchived: false });
  ws.messages[DEV] = [];
  for (const [name, p] of Object.entries(PEOPLE) as Array<[string, Person]>) {
    if (!p.seeded)
      ws.users.push({
        id: p.id,
        name,
        realName: name,
        isBot: false,
        ...(p.deactivated ? { deleted: true } : {}),
        ...(p.slackTeam ? { teamId: p.slackTeam } : {}),
      });
    for (const channel of ws.channels.filter((c) => c.id === OPS || c.id === DEV)) if (!channel.members.includes(p.id)) channel.members.push(p.id);
    if (p.grants) await allowlist.put({ teamId: p.grantsTeam ?? TEAM, userId: p.id, grants: p.grants, addedBy: 'matrix', updatedAt: new Date().toISOString() });
  }

  // Socket Mode: the Bolt listeners over the production core, on a fake app that only records them.
  const record = (kind: string) => (name: string, listener: Listener) => void socketListeners.set(`${kind} ${name}`, listener);
  const app = { command: record('command'), action: record('action'), event: record('event') };
  registerListeners(app as unknown as App, createIngress(productionIngressDeps()));

  // The two requests reactions and cancels are about.
  const deploy = await openRequest(PEOPLE.dora.id, 'deploy web v1.5.0');
  const run = await openRequest(PEOPLE.owen.id, `run restore.sh ${RESTORE_ARG}`);
  fixtures.deployTs = deploy.ts;
  fixtures.runTs = run.ts;
  fixtures.runId = /run `([a-z0-9]{6})`/.exec(run.text)![1]!;
}, 90_000);

afterAll(async () => {
  if (world) {
    try {
      // The requesters withdraw their requests, so their workflows end and nothing is left running.
      for (const [who, ts] of [
        [PEOPLE.dora.id, fixtures.deployTs],
        [PEOPLE.owen.id, fixtures.runTs],
      ] as const) {
        if (ts) await world.react(who, OPS, ts, 'x');
      }
      await Promise.race([world.idle(), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
    } finally {
      setConfig?.(undefined);
      await world.close();
    }
  }
}, 60_000);

// ---- helpers -------------------------------------------------------------------------------------

const parents = (channel: string): SlackMessage[] => (world.slack.workspace.messages[channel] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);

async function openRequest(userId: string, text: string): Promise<SlackMessage> {
  const before = new Set(parents(OPS).map((m) => m.ts));
  expect((JSON.parse((await world.slash(userId, text)).body) as { text: string }).text).toContain('Working on');
  const message = await world.slack.waitFor(() => parents(OPS).find((m) => !before.has(m.ts) && /React :white_check_mark: to approve/.test(m.text)), 30_000);
  await eventually(async () => (await approvals.get(`tracked#${OPS}#${message.ts}`))?.status === 'pending', `the request for ${text} is tracked`);
  return message;
}

async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

type StoredAudit = AuditRecord & { pk: string; sk: string };

async function auditSince(team: string, since: string): Promise<StoredAudit[]> {
  const items: StoredAudit[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.query({
      TableName: tableName('audit'),
      KeyConditionExpression: 'pk = :pk AND sk >= :since',
      ExpressionAttributeValues: { ':pk': `team#${team}`, ':since': since },
      ConsistentRead: true,
      ExclusiveStartKey: start,
    });
    items.push(...((out.Items ?? []) as StoredAudit[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

async function auditItem(key: { pk: string; sk: string }): Promise<StoredAudit> {
  return (await ddb.get({ TableName: tableName('audit'), Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true })).Item as StoredAudit;
}

async function allowlistSnapshot(): Promise<string> {
  const entries = [...(await allowlist.list(TEAM)), ...(await allowlist.list(OTHER_TEAM))];
  return JSON.stringify(
    entries.map((e) => ({ team: e.teamId, user: e.userId, grants: e.grants })).sort((a, b) => `${a.team}/${a.user}`.localeCompare(`${b.team}/${b.user}`)),
  );
}

async function expectGrants(who: Who, grants: Grant[]): Promise<void> {
  expect((await allowlist.get(TEAM, person(who).id))?.grants).toEqual(grants);
}

async function expectRunNotCancelled(): Promise<void> {
  expect(await state.get(`cancel#${fixtures.runId}`)).toBeUndefined();
  expect(await state.get(`run#${fixtures.runId}`)).toMatchObject({ runId: fixtures.runId, userId: PEOPLE.owen.id });
}

interface Invoked {
  functionName: string;
  startedAt: Date;
  endedAt?: Date;
  payload: { kind?: string; eventId?: string; audit?: { sk?: string }; invocation?: { teamId: string; userId: string; channelId: string; text: string } };
}
const workerJobs = (): Invoked[] => (world.aws.lambda.invocations as unknown as Invoked[]).filter((i) => i.functionName === WORKER_FUNCTION);

const sign = (body: string, contentType: 'application/json' | 'application/x-www-form-urlencoded') =>
  signedSlackEvent({ signingSecret: world.signingSecret, contentType, body });
const textOf = (res: { statusCode: number; body: string }): string => {
  expect(res.statusCode).toBe(200);
  return (JSON.parse(res.body) as { text: string }).text;
};

function blockActions(team: string, userId: string, channel: string, action: { action_id: string; value: string }, responseKey: string) {
  return {
    type: 'block_actions',
    team: { id: team },
    user: { id: userId, username: userId.toLowerCase() },
    channel: { id: channel, name: CHANNEL_NAMES[channel] },
    message: { ts: BUTTON_MESSAGE_TS },
    container: { type: 'message', message_ts: BUTTON_MESSAGE_TS, channel_id: channel },
    response_url: world.slack.responseUrl(responseKey, { channel, user: userId }),
    trigger_id: triggerId(),
    actions: [{ ...action, type: 'button', action_ts: `${Date.now() / 1000}` }],
  };
}

function reactionEnvelope(team: string, userId: string, ts: string, reaction: string, added: boolean, eventId: string) {
  return {
    type: 'event_callback',
    team_id: team,
    api_app_id: 'A0LOCAL',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: team, user_id: world.slack.workspace.bot.userId, is_bot: true }],
    event: {
      type: added ? 'reaction_added' : 'reaction_removed',
      user: userId,
      reaction,
      item_user: world.slack.workspace.bot.userId,
      item: { type: 'message', channel: OPS, ts },
      event_ts: `${Date.now() / 1000}`,
    },
  };
}

const responseText = (key: string): string => {
  const posts = world.slack.workspace.responses.filter((r) => r.key === key);
  expect(posts).toHaveLength(1);
  return posts[0]!.text ?? '';
};

/** The button under a notification that stands for `text` (`mute web 1h` → Mute on web), checked to stand for exactly that. */
function notifyClick(text: string): { action_id: string; value: string } {
  const [, target = '', , taskId] = text.split(/\s+/);
  const buttons = notificationButtons(target, taskId).elements as Array<{ action_id: string; value: string }>;
  const button = buttons.find((b) => clickedCommand(b.action_id, b.value) === text);
  expect(button, `a notification button that stands for \`${text}\``).toBeDefined();
  return { action_id: button!.action_id, value: button!.value };
}

/** Sends the command through the case's entry point; returns what the person is told at once. */
async function sendCommand(c: CommandCase, text: string): Promise<string> {
  const userId = person(c.who).id;
  const local = c.team === TEAM;
  const button = c.via1.endsWith('button');
  const action = c.via1.endsWith('cancel button')
    ? { action_id: CANCEL_ACTION, value: text.replace(/^cancel\s+/, '') }
    : c.via1.endsWith('notify button')
      ? notifyClick(text)
      : { action_id: RERUN_ACTION, value: text };
  if (c.via1.endsWith('cancel button')) expect(text, 'a cancel button carries a run id').toMatch(/^cancel\s+\S+$/);
  switch (c.via1) {
    case 'slash':
      if (local) return textOf(await world.slash(userId, text, c.channel));
      return textOf(await world.ingress(sign(slashCommandBody({ teamId: c.team, userId, channelId: c.channel, text }), 'application/x-www-form-urlencoded')));
    case 'socket command': {
      let answer: { text?: string } | undefined;
      await socketListeners.get(`command ${ECS}`)!({
        command: {
          team_id: c.team,
          user_id: userId,
          user_name: userId.toLowerCase(),
          channel_id: c.channel,
          channel_name: CHANNEL_NAMES[c.channel],
          command: ECS,
          text,
          response_url: world.slack.responseUrl(`matrix-unused-${++responseCounter}`),
          trigger_id: triggerId(),
        },
        ack: async (response: { text?: string }) => void (answer = response),
      });
      expect(answer, 'the command was acknowledged').toBeDefined();
      return answer!.text ?? '';
    }
    default: {
      expect(button).toBe(true);
      const key = `matrix-${++responseCounter}`;
      if (c.via1.startsWith('socket')) {
        let acked = false;
        await socketListeners.get(`action ${action.action_id}`)!({
          ack: async () => void (acked = true),
          body: blockActions(c.team, userId, c.channel, action, key),
        });
        expect(acked, 'the click was acknowledged').toBe(true);
        return responseText(key);
      }
      if (local) {
        // world.click picks its own response_url: the answer is the one response posted meanwhile.
        const before = world.slack.workspace.responses.length;
        const res = await world.click(userId, c.channel, BUTTON_MESSAGE_TS, action);
        expect(res.statusCode).toBe(200);
        // An earlier row's worker may withdraw its own ack note meanwhile (delete_original): not an answer to this click.
        const posted = world.slack.workspace.responses.slice(before).filter((r) => !r.deleteOriginal);
        expect(posted).toHaveLength(1);
        return posted[0]!.text ?? '';
      }
      const payload = `payload=${encodeURIComponent(JSON.stringify(blockActions(c.team, userId, c.channel, action, key)))}`;
      expect((await world.ingress(sign(payload, 'application/x-www-form-urlencoded'))).statusCode).toBe(200);
      return responseText(key);
    }
  }
}

const matches = (text: string, expected: string | RegExp) => (typeof expected === 'string' ? expect(text).toContain(expected) : expect(text).toMatch(expected));
const withRun = (s: string) => s.replaceAll('{run}', fixtures.runId);

async function runCommandCase(c: CommandCase): Promise<void> {
  const text = withRun(c.text);
  const userId = person(c.who).id;
  const verb = [...VERBS, servicesRefreshVerb].find((v) => v.name === verbName(c));
  const toWorker = verb?.runsIn === 'worker' && (c.expect === 'allowed' || c.thread !== undefined || c.privately !== undefined);
  const responsesBefore = world.slack.workspace.responses.length;
  const allowlistBefore = await allowlistSnapshot();
  let awsCallsBefore = 0;
  if (c.noAws) {
    // Nothing else may be calling AWS meanwhile: the workers of earlier rows finish first.
    await eventually(async () => workerJobs().every((j) => j.endedAt), 'earlier workers to finish', 60_000);
    awsCallsBefore = world.aws.calls.length;
  }
  const started = new Date();
  const since = started.toISOString();

  const told = await sendCommand(c, text);

  // What the person is told.
  // The command is echoed inertly: mentions and links as plain words (typedCode).
  matches(told, c.says !== undefined ? (typeof c.says === 'string' ? withRun(c.says) : c.says) : `⏳ Working on ${typedCode(`${ECS} ${text}`)}`);
  for (const name of c.hides ?? []) expect(told, `the answer does not show ${name}`).not.toContain(name);

  // The audit record: exactly one for this request.
  const records = (await auditSince(c.team, since)).filter((r) => r.userId === userId && r.channelId === c.channel && r.commandText === `${ECS} ${text}`);
  expect(records, 'one audit record for the request').toHaveLength(1);
  let record = records[0]!;

  // A worker job ran, or not.
  const jobsForRequest = () =>
    workerJobs().filter(
      (j) =>
        j.startedAt >= started &&
        j.payload.kind === 'command' &&
        j.payload.invocation?.userId === userId &&
        j.payload.invocation.text === text &&
        j.payload.invocation.teamId === c.team,
    );
  if (toWorker) {
    await eventually(async () => workerJobs().some((j) => j.payload.audit?.sk === record.sk), 'the worker job of the request', 5_000);
  } else {
    expect(jobsForRequest(), 'no worker job for the request').toHaveLength(0);
  }
  if (c.thread !== undefined) {
    record = await eventually(async () => {
      const now = await auditItem(record);
      return now.outcome !== 'accepted' && now;
    }, `the worker to finish ${ECS} ${text}`);
    expect(record.threadTs, 'the worker answered in a thread').toEqual(expect.any(String));
    const thread = [world.slack.message(c.channel, record.threadTs!)?.text ?? '', ...world.slack.replies(c.channel, record.threadTs!).map((m) => m.text)].join(
      '\n',
    );
    matches(thread, typeof c.thread === 'string' ? withRun(c.thread) : c.thread);
  }
  if (c.privately !== undefined) {
    record = await eventually(async () => {
      const now = await auditItem(record);
      return now.outcome !== 'accepted' && now;
    }, `the worker to finish ${ECS} ${text}`);
    expect(record.threadTs, 'no thread: nothing posted in the channel').toBeUndefined();
    const told = world.slack.workspace.responses
      .slice(responsesBefore)
      .map((r) => r.text ?? '')
      .filter((t) => !t.startsWith('⏳'));
    expect(told, 'one private answer from the worker').toHaveLength(1);
    matches(told[0]!, c.privately);
  }

  expect(record.decision).toBe(c.expect);
  expect(record.verb ?? verbName(c)).toBe(verbName(c));
  if (c.outcome) expect(record.outcome).toBe(c.outcome);
  else if (c.expect !== 'allowed') expect(record.outcome).toBe('refused');
  else if (verb?.runsIn === 'ack') expect(record.outcome).toBe('answered');
  else expect(['accepted', 'success', 'warning', 'failure']).toContain(record.outcome);
  if (c.reason !== undefined) expect(record.reason ?? '').toContain(withRun(c.reason));

  // Nothing changed unless the row says so.
  if (!c.changes) expect(await allowlistSnapshot(), 'the allowlist did not change').toBe(allowlistBefore);
  if (c.noAws) expect(world.aws.calls.slice(awsCallsBefore), 'no AWS call').toEqual([]);
  await c.then?.();
}

async function runReactionCase(c: ReactionCase): Promise<void> {
  const userId = person(c.who).id;
  const ts = c.on === 'deploy' ? fixtures.deployTs : fixtures.runTs;
  const key = `tracked#${OPS}#${ts}`;
  const emoji = c.emoji ?? 'white_check_mark';
  const added = c.via1.endsWith('added');
  const before = (await approvals.get(key))!;
  expect(before.status).toBe('pending');
  const ephemeralsBefore = world.slack.workspace.ephemerals.length;
  const repliesBefore = world.slack.replies(OPS, ts).length;
  const started = new Date();
  const since = started.toISOString();

  let eventId = `EvMATRIX${String(++eventCounter).padStart(4, '0')}`;
  if (c.via1.startsWith('socket')) {
    await socketListeners.get(`event ${added ? 'reaction_added' : 'reaction_removed'}`)!({ body: reactionEnvelope(c.team, userId, ts, emoji, added, eventId) });
  } else if (c.team === TEAM) {
    const res = await world.react(userId, OPS, ts, emoji, added);
    expect(res.statusCode).toBe(200);
    eventId = res.eventId;
  } else {
    expect((await world.ingress(sign(JSON.stringify(reactionEnvelope(c.team, userId, ts, emoji, added, eventId)), 'application/json'))).statusCode).toBe(200);
  }

  const configured = c.team !== UNKNOWN_TEAM;
  const record = await eventually(async () => {
    const records = (await auditSince(c.team, since)).filter((r) =>
      configured ? r.userId === userId && r.verb === 'approve' && r.threadTs === ts : r.id === eventId,
    );
    return records.length > 0 && records;
  }, `the audit record of ${c.name}`).then((records) => {
    expect(records, 'one audit record for the reaction').toHaveLength(1);
    return records[0]!;
  });
  expect(record.decision).toBe(c.expect);
  expect(record.outcome).toBe(c.expect === 'allowed' ? 'success' : 'refused');
  expect(record.reason ?? '').toContain(c.reason);
  expect(record.teamId).toBe(c.team);

  // The worker decides reactions from a configured workspace; the ingress drops the others.
  const jobs = workerJobs().filter((j) => j.payload.kind === 'reaction' && j.payload.eventId === eventId);
  expect(jobs, configured ? 'a reaction job' : 'no reaction job').toHaveLength(configured ? 1 : 0);

  // What the person is told.
  const toldSince = () => [
    ...world.slack.workspace.ephemerals
      .slice(ephemeralsBefore)
      .filter((e) => e.user === userId)
      .map((e) => e.text),
    ...world.slack
      .replies(OPS, ts)
      .slice(repliesBefore)
      .map((m) => m.text),
  ];
  if (c.says !== undefined) await eventually(async () => toldSince().some((t) => t.includes(c.says!)), `"${c.says}" to be said`, 5_000);
  else expect(toldSince(), 'nothing is said').toEqual([]);

  // The request: still pending; the approval counted, withdrawn, or not touched.
  const after = (await approvals.get(key))!;
  expect(after.status).toBe('pending');
  if (c.expect === 'allowed' && added) expect(after.approvals ?? []).toContain(userId);
  else if (c.expect === 'allowed') expect(after.approvals ?? []).not.toContain(userId);
  else expect(after.approvals ?? []).toEqual(before.approvals ?? []);
}

// ---- the matrix ----------------------------------------------------------------------------------

describe('authorisation matrix', () => {
  for (const [section, rows] of SECTIONS) {
    describe(section, () => {
      for (const c of casesOf(rows)) {
        it(c.name, () => (isReaction(c) ? runReactionCase(c as ReactionCase) : runCommandCase(c as CommandCase)));
      }
    });
  }
});

describe('completeness of the matrix', () => {
  it('has rows for every verb, each allowed and refused, and for approving by reaction', () => {
    const verbs = [...VERBS.map((v) => v.name), servicesRefreshVerb.name, 'approve'];
    for (const verb of verbs) {
      const rows = ALL_ROWS.filter((r) => verbName(r) === verb);
      expect(
        rows.some((r) => r.expect === 'allowed'),
        `an allowed row for ${verb}`,
      ).toBe(true);
      expect(
        rows.some((r) => r.expect !== 'allowed'),
        `a refused row for ${verb}`,
      ).toBe(true);
    }
    expect(
      ALL_ROWS.filter((r) => !verbs.includes(verbName(r))).map((r) => verbName(r)),
      'rows name known verbs',
    ).toEqual([]);
  });

  it('has rows for every entry point, and every Bolt listener is one of them', () => {
    for (const via of ENTRY_POINTS)
      expect(
        ALL_CASES.some((c) => c.via1 === via),
        `a row through the ${via}`,
      ).toBe(true);
    // A listener added to registerListeners (a new button, a new event) needs an entry point here, and rows.
    expect([...socketListeners.keys()].sort()).toEqual(Object.keys(SOCKET_LISTENERS).sort());
    // Over HTTP, the same entry points as over Socket Mode.
    expect(
      ENTRY_POINTS.filter((e) => !e.startsWith('socket'))
        .map((e) => (e === 'slash' ? 'command' : e))
        .sort(),
    ).toEqual([...new Set(Object.values(SOCKET_LISTENERS))].map((e) => e.replace(/^socket /, '')).sort());
    // Every button under a notification is clicked by some row.
    const clicked = new Set(ALL_CASES.filter((c): c is CommandCase => c.via1.endsWith('notify button')).map((c) => notifyClick(withRun(c.text)).action_id));
    expect([...clicked].sort()).toEqual([NOTIFY_STATUS_ACTION, NOTIFY_LOGS_ACTION, NOTIFY_VERIFY_ACTION, NOTIFY_ROLLBACK_ACTION, NOTIFY_MUTE_ACTION].sort());
  });

  it('has rows for every role, in scope and out of it, and from other workspaces', () => {
    const roles = new Set(ALL_ROWS.flatMap((r) => person(r.who).grants?.map((g) => g.role) ?? []));
    for (const role of ['viewer', 'operator', 'deployer', 'approver', 'admin']) expect(roles, `a row for a ${role}`).toContain(role);
    for (const team of [OTHER_TEAM, UNKNOWN_TEAM])
      expect(
        ALL_ROWS.some((r) => r.team === team),
        `a row from ${team}`,
      ).toBe(true);
    expect(ALL_ROWS.some((r) => !isReaction(r) && r.channel === DEV)).toBe(true);
  });
});
