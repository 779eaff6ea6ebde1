import type { App } from '@slack/bolt';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signedSlackEvent } from '../local/slack/sign';
import { everything, parseRequest, VERBS } from '../src/commands/registry';
import { splitFlags } from '../src/commands/grammar';
import type { VerifyArgs } from '../src/commands/verbs/args';
import { verifyVerb } from '../src/commands/verbs/verify';
import { parseConfig } from '../src/config/schema';
import { createIngress } from '../src/ingress/ingress';
import type { CommandJob } from '../src/platform/jobs';
import { BUTTON_ACTIONS, CANCEL_ACTION, RERUN_ACTION } from '../src/slack/actions';
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
    const args: VerifyArgs = verifyVerb.parse(splitFlags(['web', '--image', 'v2', '--put-logs'], verifyVerb.flags!), config, all);
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

  it('run is checked where its script runs now: the scope comes from the configuration of the moment', () => {
    const moved = { ...config, scripts: { 'backup.sh': { ...config.scripts['backup.sh']!, target: 'logs' } } };
    const { verb, args } = parseRequest('run backup.sh nightly', config, all);
    expect(verb.scope!(args, moved)).toEqual({ target: 'logs', script: 'backup.sh' });
  });

  it('every worker verb loads its handler; every ack verb answers itself', async () => {
    for (const verb of VERBS) {
      if (verb.runsIn === 'worker') expect(typeof (await verb.handler()), verb.name).toBe('function');
      else expect(typeof verb.answer, verb.name).toBe('function');
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
  const VALUES: Record<string, string> = { [RERUN_ACTION]: 'status web', [CANCEL_ACTION]: 'k3x9q2' };

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
      for (const handlerText of ['Verifying ', 'One run at a time', 'Another deploy of', 'AmazonEC2ContainerServiceV20141113']) {
        expect(worker.includes(handlerText), `the worker: ${handlerText}`).toBe(true);
        expect(ingress.includes(handlerText), `the ingress: ${handlerText}`).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
