import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import type { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer } from '../local/slack/server';
import { setupDurableEnvironment, teardownDurableEnvironment } from '../local/world';
import { parseConfig } from '../src/config/schema';
import type { FleetResult } from '../src/fleet/types';
import { createLogger } from '../src/platform/logger';
import { createSlackClient } from '../src/slack/client';
import { servicePin } from '../src/fleet/pin';
import { createFleetWorkflow, type FleetWorkflowDeps } from '../src/workflows/fleet';
import type { FleetWorkflowInput } from '../src/workflows/inputs';
import { memoryAudit, memoryState } from './support/fakes';
import { fleetService } from './support/fleet';

/**
 * The fleet workflow under the durable testing package (checkpoints, step retries with skipped
 * time), with the local Slack and a per-service task that needs no AWS: what it does with the
 * results, whatever they are.
 */
let slack: SlackServer;
let client: WebClient;
beforeAll(async () => {
  slack = await startSlackServer();
  process.env.SLACK_API_URL = slack.url;
  client = createSlackClient('xoxb-test');
  await setupDurableEnvironment({ skipTime: false });
});
afterAll(async () => {
  delete process.env.SLACK_API_URL;
  await teardownDurableEnvironment();
  await slack.close();
});

const config = parseConfig({ slack: { teams: ['T0TEST'] }, targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } } });
const service = (alias: string, accountId: string) => fleetService(alias, accountId, { labels: { env: 'prod' } });
const FLEET = [service('a1', '111111111111'), service('a2', '111111111111'), service('b1', '222222222222'), service('c1', '333333333333')];
const VERDICT: Record<string, FleetResult['verdict']> = { a1: 'ok', a2: 'warn', b1: 'fail', c1: 'ok' };

async function run(overrides: Partial<FleetWorkflowDeps>, fleet: Partial<FleetWorkflowInput['fleet']> = {}) {
  const parent = await client.chat.postMessage({ channel: 'C0OPS', text: '<@U0ALICE> ran `/ecs verify env=prod`' });
  const summary = await client.chat.postMessage({ channel: 'C0OPS', thread_ts: parent.ts!, text: 'Verify of …' });
  const state = memoryState();
  const audit = memoryAudit();
  const deps: FleetWorkflowDeps = {
    config: () => config,
    catalog: () => ({ get: async () => undefined, getMany: async () => [], select: async () => FLEET, labels: async () => ({}) }),
    slack: async () => client,
    state,
    audit: () => audit,
    logger: createLogger({}, () => undefined),
    task: () => ({
      run: async (s) => ({ alias: s.alias, accountId: s.accountId, region: s.region, verdict: VERDICT[s.alias]!, summary: `${s.alias} <b>` }),
      close: () => undefined,
    }),
    ...overrides,
  };
  const input: FleetWorkflowInput = {
    fleet: { kind: 'verify', selector: 'env=prod', batches: [['a1', 'a2'], ['b1'], ['c1']], summaryTs: summary.ts!, ...fleet },
    runId: 'r1',
    teamId: 'T0TEST',
    userId: 'U0ALICE',
    channelId: 'C0OPS',
    parentTs: parent.ts!,
    parentText: '<@U0ALICE> ran `/ecs verify env=prod`',
    audit: { pk: 'team#T0TEST', sk: 'x' },
    startedAt: Date.now(),
  };
  const callsBefore = slack.calls.length;
  // Loaded after setupDurableEnvironment, which loads it under a log level it accepts.
  const { LocalDurableTestRunner } = await import('@aws/durable-execution-sdk-js-testing');
  const result = await new LocalDurableTestRunner({ handlerFunction: withDurableExecution(createFleetWorkflow(deps)) }).run({ payload: input });
  return { result, parentTs: parent.ts!, summaryTs: summary.ts!, audit, state, calls: slack.calls.slice(callsBefore) };
}

describe('the fleet workflow', () => {
  it('maps over the accounts, closes the summary with the counts, shares the files once, completes the audit, marks the parent', async () => {
    const { result, parentTs, summaryTs, audit, calls } = await run({});
    expect(result.getStatus()).toBe('SUCCEEDED');
    expect(result.getOperations().filter((op) => op.getName() === 'run')).toHaveLength(3); // one step per account
    const summary = slack.message('C0OPS', summaryTs)!.text;
    expect(summary.split('\n').slice(0, 2)).toEqual(['*Verify of `env=prod`*: 4 services', '❌ 1 failing · ⚠️ 1 with warnings · ✅ 2 ok']);
    expect(summary).toContain('b1 &lt;b&gt;');
    const shares = slack.replies('C0OPS', parentTs).filter((r) => r.files.length > 0);
    expect(shares).toHaveLength(1);
    expect(shares[0]!.files).toHaveLength(2);
    expect(audit.completions).toEqual([
      {
        key: { pk: 'team#T0TEST', sk: 'x' },
        result: expect.objectContaining({ outcome: 'failure', detail: { counts: { fail: 1, error: 0, warn: 1, ok: 2 } } }),
      },
    ]);
    expect(slack.message('C0OPS', parentTs)!.text).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify env=prod`/);
    expect(calls.filter((c) => c.method === 'chat.update').length).toBeLessThanOrEqual(4); // ≤ 2 edits, the close, the parent
  });

  it('an account whose step fails for good (the catalog unreadable) is still a result for each of its services; the run ends as usual', async () => {
    const { result, summaryTs, parentTs } = await run({
      retryStrategy: () => ({ shouldRetry: false, delay: { seconds: 0 } }),
      catalog: () => ({
        get: async () => undefined,
        getMany: async () => [],
        select: async () => {
          throw new Error('catalog unreadable');
        },
        labels: async () => ({}),
      }),
    });
    expect(result.getStatus()).toBe('SUCCEEDED');
    const summary = slack.message('C0OPS', summaryTs)!.text;
    expect(summary).toContain('⛔ 4 not reachable');
    expect(summary).toContain('not run: catalog unreadable');
    expect(slack.message('C0OPS', parentTs)!.text).toMatch(/^❌/);
  });

  it('runs only the services the worker authorised: an alias a refresh gave to another service meanwhile is a result, not a run', async () => {
    const ran: string[] = [];
    const pins = Object.fromEntries(FLEET.map((s) => [s.alias, servicePin(s)]));
    // b1 now names a service in another cluster: not the one selected and authorised.
    const moved = FLEET.map((s) => (s.alias === 'b1' ? { ...s, serviceArn: s.serviceArn.replace('/main/', '/other/') } : s));
    const { summaryTs } = await run(
      {
        catalog: () => ({ get: async () => undefined, getMany: async () => [], select: async () => moved, labels: async () => ({}) }),
        task: () => ({
          run: async (s) => {
            ran.push(s.alias);
            return { alias: s.alias, accountId: s.accountId, region: s.region, verdict: 'ok', summary: 'fine' };
          },
          close: () => undefined,
        }),
      },
      { pins },
    );
    expect(ran.sort()).toEqual(['a1', 'a2', 'c1']);
    expect(slack.message('C0OPS', summaryTs)!.text).toContain('the alias names another service since the command');
  });
});
