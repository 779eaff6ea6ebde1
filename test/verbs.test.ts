import type { App } from '@slack/bolt';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signedSlackEvent } from '../local/slack/sign';
import { everything, parseRequest, VERBS } from '../src/commands/registry';
import { splitFlags } from '../src/commands/grammar';
import { verifyVerb } from '../src/commands/verbs/verify';
import { allowlistFromCatalogVerb } from '../src/commands/verbs/allowlist';
import { servicesFromCatalogVerb } from '../src/commands/verbs/services';
import { servicesRefreshVerb } from '../src/commands/verbs/services-refresh';
import { parseConfig } from '../src/config/schema';
import { createIngress } from '../src/ingress/ingress';
import type { CommandJob } from '../src/platform/jobs';
import {
  BUTTON_ACTIONS,
  CANCEL_ACTION,
  NOTIFY_LOGS_ACTION,
  NOTIFY_MUTE_ACTION,
  NOTIFY_ROLLBACK_ACTION,
  NOTIFY_STATUS_ACTION,
  NOTIFY_VERIFY_ACTION,
  RERUN_ACTION,
} from '../src/slack/actions';
import { registerListeners } from '../src/ingress/bolt-listeners';
import { memoryAllowlist, memoryAudit, memoryJobs, memoryState } from './support/fakes';

/** One verb, one typed object: its parse is the only reader of the words, and what it returns is what the worker gets. */
const config = parseConfig({
  slack: { teams: ['T1'] },
  targets: {
    web: { region: 'us-east-1', cluster: 'main', service: 'web', manager: { container: 'app' } },
    logs: { region: 'us-east-1', cluster: 'main', service: 'logs', verify: { putLogs: true } },
  },
  scripts: { 'backup.sh': { target: 'web', path: '/work/backup.sh', args: [{ name: 'label', pattern: '[a-z]+' }] } },
});
const all = everything(config);

describe('a verb parses its words into typed arguments', () => {
  it('verify: the target, --image as a string, --put-logs resolved against the target’s default', () => {
    const args = verifyVerb.parse(splitFlags(['web', '--image', 'v2', '--put-logs'], verifyVerb.flags!), config, all);
    expect(args).toEqual({ target: 'web', image: 'v2', putLogs: true });
    // The default is resolved once, here: the worker gets a boolean, not the absence of a flag.
    expect(parseRequest('verify web', config, all).args).toEqual({ target: 'web', putLogs: false });
    expect(parseRequest('verify logs', config, all).args).toEqual({ target: 'logs', putLogs: true });
    expect(parseRequest('verify web --image=registry/web:1', config, all).args).toEqual({ target: 'web', image: 'registry/web:1', putLogs: false });
  });

  it('each verb: its arguments and its scope, plain JSON that the worker reads back unchanged', () => {
    const cases: Array<[string, unknown, object]> = [
      ['help status', { verb: 'status' }, {}],
      ['whoami', {}, {}],
      ['status web', { target: 'web' }, { target: 'web' }],
      ['run backup.sh nightly', { script: 'backup.sh', args: ['nightly'] }, { target: 'web', script: 'backup.sh' }],
      ['deploy web v1.5.0', { target: 'web', action: 'deploy', image: 'v1.5.0' }, { target: 'web' }],
      ['deploy web --redeploy', { target: 'web', action: 'redeploy' }, { target: 'web' }],
      ['rollback web 42', { target: 'web', revision: '42' }, { target: 'web' }],
      ['cancel k3x9q2', { runId: 'k3x9q2' }, {}],
      ['mute web 2h30m deploy window <@U0BOB|bob>', { target: 'web', minutes: 150, reason: 'deploy window @bob' }, { target: 'web', wholeService: true }],
      ['mute web 1d', { target: 'web', minutes: 1440 }, { target: 'web', wholeService: true }],
      ['unmute web', { target: 'web' }, { target: 'web', wholeService: true }],
      ['logs web', { target: 'web', lines: 50 }, { target: 'web' }],
      [
        'logs web --task 0123456789abcdef0123456789abcdef --container app --lines 200',
        { target: 'web', task: '0123456789abcdef0123456789abcdef', container: 'app', lines: 200 },
        { target: 'web' },
      ],
      [
        'allow <@U0BOB|bob> operator web --scripts backup.sh',
        { subject: 'U0BOB', grant: { role: 'operator', services: ['web'], scripts: ['backup.sh'] } },
        { subject: 'U0BOB', grant: { role: 'operator', services: ['web'], scripts: ['backup.sh'] } },
      ],
      ['deny <@U0BOB>', { subject: 'U0BOB' }, { subject: 'U0BOB' }],
    ];
    for (const [text, args, scope] of cases) {
      const request = parseRequest(text, config, all);
      expect(request.args, text).toEqual(args);
      expect(JSON.parse(JSON.stringify(request.args)), text).toEqual(request.args);
      expect(request.scope, text).toEqual(scope);
      expect(request.verb.scope?.(JSON.parse(JSON.stringify(request.args)), config) ?? {}, text).toEqual(scope);
    }
  });

  it('mute: a duration from 5 minutes to 7 days, written like 30m, 1h, 2h30m or 1d; anything else is a usage error', () => {
    for (const [duration, minutes] of [
      ['5m', 5],
      ['30m', 30],
      ['1h', 60],
      ['2h30m', 150],
      ['1d', 1440],
      ['7d', 10080],
      ['1d12h', 2160],
      ['90M', 90],
    ] as const)
      expect(parseRequest(`mute web ${duration}`, config, all).args, duration).toEqual({ target: 'web', minutes });
    const refusal = (text: string) => {
      try {
        parseRequest(text, config, all);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`${text} parsed`);
    };
    expect(refusal('mute web')).toContain('For how long? For example `/ecs mute web 1h`.');
    expect(refusal('mute web 4m')).toContain('A mute lasts from 5 minutes to 7 days, not 4 min.');
    expect(refusal('mute web 7d1m')).toContain('not 7 d 1 min');
    expect(refusal('mute web 8d')).toContain('not 8 d');
    for (const bad of ['1', 'soon', '1h1d', '-1h', '1.5h', '<@U1>']) expect(refusal(`mute web ${bad}`), bad).toMatch(/is not a duration: write it like `30m`/);
    expect(refusal('mute web 1h ' + 'x'.repeat(301))).toContain('The reason is too long (301 characters, at most 300).');
    expect(refusal('mute')).toContain('Which service?');
    expect(refusal('unmute web 1h')).toContain('Unexpected `1h`');
  });

  it('logs: --lines from 1 to 200, a task id or ARN, a container name; anything else is a usage error', () => {
    const refusal = (text: string) => {
      try {
        parseRequest(text, config, all);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`${text} parsed`);
    };
    expect(parseRequest('logs web --lines 1 --task 0123abcd', config, all).args).toEqual({ target: 'web', lines: 1, task: '0123abcd' });
    const arn = 'arn:aws:ecs:us-east-1:111111111111:task/main/0123456789abcdef0123456789abcdef';
    expect(parseRequest(`logs web --task ${arn}`, config, all).args).toEqual({ target: 'web', lines: 50, task: arn });
    for (const lines of ['0', '201', 'ten', '-5', '1e2']) expect(refusal(`logs web --lines ${lines}`), lines).toContain('`--lines` is a number from 1 to 200');
    for (const task of ['abc', 'zzzzzzzzzz', '0123abcd;rm', '0123456789abcdef0123456789abcdef0'])
      expect(refusal(`logs web --task ${task}`), task).toContain('is not a task id');
    expect(refusal('logs web --container a/b')).toContain('`a/b` is not a container name.');
    expect(refusal('logs web --follow')).toContain('`--follow` needs a value');
    expect(refusal('logs web --tail 5')).toContain('Unknown option `--tail`');
  });

  it('logs: --since up to 7d, --grep literal text, --follow from 10s to 15m', () => {
    const refusal = (text: string) => {
      try {
        parseRequest(text, config, all);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`${text} parsed`);
    };
    expect(parseRequest('logs web --since 2h --grep "connection refused" --follow 5m', config, all).args).toEqual({
      target: 'web',
      lines: 50,
      since: 7_200_000,
      grep: 'connection refused',
      follow: 300_000,
    });
    expect(parseRequest('logs web --since 30s', config, all).args).toMatchObject({ since: 30_000 });
    expect(parseRequest('logs web --since 7d', config, all).args).toMatchObject({ since: 604_800_000 });
    for (const since of ['8d', '0m', '15', 'soon', '1w']) expect(refusal(`logs web --since ${since}`), since).toContain('`--since` is a duration up to 7d');
    for (const follow of ['16m', '5s', '1h', 'forever'])
      expect(refusal(`logs web --follow ${follow}`), follow).toContain('`--follow` is a duration from 10s to 15m');
    expect(refusal(`logs web --grep 'say "hi"'`)).toContain('double quotes and backslashes are not accepted');
    expect(refusal('logs web --grep a\\b')).toContain('double quotes and backslashes are not accepted');
  });

  it('run is checked where its script runs now: the scope comes from the configuration of the moment', () => {
    const moved = { ...config, scripts: { 'backup.sh': { ...config.scripts['backup.sh']!, target: 'logs' } } };
    const { verb, args } = parseRequest('run backup.sh nightly', config, all);
    expect(verb.scope!(args, moved)).toEqual({ target: 'logs', script: 'backup.sh' });
  });

  it('every worker verb loads its handler or its private answer (one of them); every ack verb answers itself', async () => {
    for (const verb of [...VERBS, servicesFromCatalogVerb, servicesRefreshVerb, allowlistFromCatalogVerb]) {
      if (verb.runsIn === 'worker') {
        expect(verb.handler === undefined, verb.name).toBe(verb.privateAnswer !== undefined);
        expect(typeof (await (verb.handler ?? verb.privateAnswer)!()), verb.name).toBe('function');
      } else expect(typeof verb.answer, verb.name).toBe('function');
    }
  });
});

const SECRET = 'test-signing-secret';

function setup() {
  const allowlist = memoryAllowlist([{ teamId: 'T1', userId: 'U0ALICE', grants: [{ role: 'operator', services: ['web'] }] }]);
  const jobs = memoryJobs();
  const responses: Array<{ url: string; text: string }> = [];
  const core = createIngress({
    config: () => config,
    secrets: async () => ({ signingSecret: SECRET, botToken: 'xoxb-test' }),
    allowlist,
    audit: () => memoryAudit(),
    jobs,
    state: memoryState(),
    respond: async (url, message) => void responses.push({ url, text: message.text }),
    channelAccess: async () => ({ canPost: true }),
    now: Date.now,
  });
  return { core, jobs, responses };
}

describe('the worker’s job', () => {
  it('carries the verb and its typed arguments; the text only for the audit and the thread', async () => {
    const { core, jobs } = setup();
    const body = new URLSearchParams({ team_id: 'T1', user_id: 'U0ALICE', channel_id: 'C0OPS', command: '/ecs', text: 'verify web --image v2' }).toString();
    const res = await core.handleHttp(signedSlackEvent({ signingSecret: SECRET, contentType: 'application/x-www-form-urlencoded', body }));
    expect(JSON.parse(res.body).text).toContain('Working on');
    const job = jobs.jobs[0] as CommandJob;
    expect(job).toMatchObject({
      kind: 'command',
      verb: 'verify',
      args: { target: 'web', image: 'v2', putLogs: false },
      invocation: { text: 'verify web --image v2' },
    });
  });
});

describe('buttons: one table, routed alike over HTTP and Socket Mode', () => {
  type Listener = (args: Record<string, unknown>) => Promise<void>;
  const clickBody = (actionId: string, value: string, responseUrl: string) => ({
    type: 'block_actions',
    team: { id: 'T1' },
    user: { id: 'U0ALICE', username: 'alice' },
    channel: { id: 'C0OPS', name: 'ops' },
    trigger_id: `1.2.${Math.random()}`,
    response_url: responseUrl,
    actions: [{ action_id: actionId, value }],
  });
  const VALUES: Record<string, string> = {
    [RERUN_ACTION]: 'status web',
    [CANCEL_ACTION]: 'k3x9q2',
    [NOTIFY_STATUS_ACTION]: 'web',
    [NOTIFY_LOGS_ACTION]: 'web 0123456789abcdef0123456789abcdef',
    [NOTIFY_VERIFY_ACTION]: 'web',
    [NOTIFY_ROLLBACK_ACTION]: 'web',
    [NOTIFY_MUTE_ACTION]: 'web',
  };

  it('Socket Mode listens to exactly the buttons of the table', () => {
    const listeners = new Map<string, Listener>();
    const app = { command: () => undefined, event: () => undefined, action: (id: string, listener: Listener) => void listeners.set(id, listener) };
    registerListeners(app as unknown as App, setup().core);
    expect([...listeners.keys()].sort()).toEqual(BUTTON_ACTIONS.map((a) => a.actionId).sort());
  });

  for (const { actionId } of BUTTON_ACTIONS) {
    it(`${actionId}: a click does the same over HTTP and over Socket Mode`, async () => {
      const value = VALUES[actionId];
      expect(value, `a value to click ${actionId} with`).toBeDefined();
      const outcomes = [];
      for (const via of ['http', 'socket'] as const) {
        const { core, jobs, responses } = setup();
        const body = clickBody(actionId, value!, `https://hooks.slack.test/${via}`);
        if (via === 'http') {
          const event = signedSlackEvent({
            signingSecret: SECRET,
            contentType: 'application/x-www-form-urlencoded',
            body: `payload=${encodeURIComponent(JSON.stringify(body))}`,
          });
          expect((await core.handleHttp(event)).statusCode).toBe(200);
        } else {
          const listeners = new Map<string, Listener>();
          const app = { command: () => undefined, event: () => undefined, action: (id: string, listener: Listener) => void listeners.set(id, listener) };
          registerListeners(app as unknown as App, core);
          let acked = false;
          await listeners.get(actionId)!({ ack: async () => void (acked = true), body });
          expect(acked).toBe(true);
        }
        outcomes.push({
          responses: responses.map((r) => r.text),
          jobs: jobs.jobs.map((j) => (j.kind === 'command' ? { verb: j.verb, args: j.args, text: j.invocation.text } : j)),
        });
      }
      expect(outcomes[0]!.responses).toHaveLength(1);
      expect(outcomes[1]).toEqual(outcomes[0]);
    });
  }

  it('a rerun click becomes a job with its parsed arguments; a cancel click is answered at once', async () => {
    const { core, jobs, responses } = setup();
    await core.handleInteraction(clickBody(RERUN_ACTION, 'status web', 'https://hooks.slack.test/a'));
    expect(jobs.jobs).toMatchObject([{ verb: 'status', args: { target: 'web' } }]);
    await core.handleInteraction(clickBody(CANCEL_ACTION, 'k3x9q2', 'https://hooks.slack.test/b'));
    expect(responses.at(-1)!.text).toContain('No run `k3x9q2` is in progress');
  });
});

describe('the ingress bundle', () => {
  it('carries every verb’s grammar and none of the worker verbs’ handlers; the worker bundle carries them; neither carries the configuration validator', async () => {
    const { buildBundle, loadConfigFile } = await import('../scripts/build');
    const dir = mkdtempSync(join(tmpdir(), 'ecs-chatops-verbs-'));
    try {
      const shipped = async (entry: string, out: string) => {
        await buildBundle(entry, join(dir, out), loadConfigFile());
        const files = [
          join(dir, out, 'index.mjs'),
          ...readdirSync(join(dir, out, 'chunks'))
            .filter((f) => f.endsWith('.mjs'))
            .map((f) => join(dir, out, 'chunks', f)),
        ];
        return files.map((f) => readFileSync(f, 'utf8')).join('\n');
      };
      const [ingress, worker] = [await shipped('src/handlers/ingress.ts', 'ingress'), await shipped('src/handlers/worker.ts', 'worker')];
      // From the grammar of verify and run (src/commands/verbs/); from the handlers of verify, run and deploy, and the ECS client.
      for (const grammar of ['--put-logs', 'Which script?']) expect(ingress.includes(grammar), grammar).toBe(true);
      // The build validated the configuration and embedded it: no bundle carries the validator.
      for (const validatorText of ['must be a short lowercase name', 'Invalid input']) {
        expect(ingress.includes(validatorText), `the ingress: ${validatorText}`).toBe(false);
        expect(worker.includes(validatorText), `the worker: ${validatorText}`).toBe(false);
      }
      for (const handlerText of ['Verifying ', 'One run at a time', 'wait for it to end, or reject it there', 'AmazonEC2ContainerServiceV20141113']) {
        expect(worker.includes(handlerText), `the worker: ${handlerText}`).toBe(true);
        expect(ingress.includes(handlerText), `the ingress: ${handlerText}`).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
