import type { ServiceDeployment } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import {
  gateDetails,
  gateSituation,
  observeServiceDeployment,
  pendingPause,
  pickServiceDeployment,
  revisionLine,
  type StagedProgress,
} from '../src/deploy/service-deployment';
import { stagedEnding, type StagedWatch } from '../src/workflows/deploy-staged';

const TD = (n: number) => `arn:aws:ecs:us-east-1:111111111111:task-definition/web:${n}`;
const ARN = (id: string) => `arn:aws:ecs:us-east-1:111111111111:service-deployment/main/web-bg/${id}`;
const start: StagedProgress = {
  serviceDeploymentArn: ARN('A'),
  taskDefinition: TD(43),
  sourceTaskDefinition: TD(42),
  current: [],
  record: [],
  handledHooks: [],
};
const at = Date.UTC(2026, 11, 6, 3, 0, 0);

const paused = (stage: string, overrides: Partial<ServiceDeployment> = {}): ServiceDeployment => ({
  serviceDeploymentArn: ARN('A'),
  status: 'IN_PROGRESS',
  lifecycleStage: stage as ServiceDeployment['lifecycleStage'],
  targetServiceRevision: {
    arn: 'r/2',
    requestedTaskCount: 2,
    runningTaskCount: 2,
    pendingTaskCount: 0,
    requestedTestTrafficWeight: 100,
    requestedProductionTrafficWeight: 0,
  },
  sourceServiceRevisions: [{ arn: 'r/1', requestedTaskCount: 2, runningTaskCount: 2, requestedTestTrafficWeight: 0, requestedProductionTrafficWeight: 100 }],
  lifecycleHookDetails: [
    { hookId: 'ecs-pause-abc', targetType: 'PAUSE', status: 'AWAITING_ACTION', expiresAt: new Date(at + 3_600_000), timeoutAction: 'ROLLBACK' },
  ],
  ...overrides,
});

describe('service deployments: picking, judging, telling', () => {
  it('picks the newest PENDING / IN_PROGRESS service deployment created since the update, else the newest', () => {
    const brief = (id: string, status: string, t: number) => ({ serviceDeploymentArn: ARN(id), status: status as never, createdAt: new Date(t) });
    expect(
      pickServiceDeployment([brief('old', 'IN_PROGRESS', at - 60_000), brief('new', 'PENDING', at + 1000), brief('done', 'SUCCESSFUL', at + 2000)], at)
        ?.serviceDeploymentArn,
    ).toBe(ARN('new'));
    expect(pickServiceDeployment([brief('old', 'IN_PROGRESS', at - 60_000)], at)?.serviceDeploymentArn).toBe(ARN('old'));
    expect(pickServiceDeployment([brief('done', 'SUCCESSFUL', at)], at)).toBeUndefined();
  });

  it('tells a revision with its counts and the traffic weights ECS asks for', () => {
    expect(
      revisionLine('new', TD(43), {
        runningTaskCount: 1,
        requestedTaskCount: 2,
        pendingTaskCount: 1,
        requestedProductionTrafficWeight: 10,
        requestedTestTrafficWeight: 100,
      }),
    ).toBe('new `web:43`: 1/2 running, 1 pending, production 10%, test 100%');
  });

  it('says each stage once in the record, and judges SUCCESSFUL, ROLLBACK_* and STOPPED as ECS reports them', () => {
    const first = observeServiceDeployment(paused('PRODUCTION_TRAFFIC_SHIFT', { lifecycleHookDetails: [] }), start, { at, gates: [] });
    expect(first.verdict).toEqual({ state: 'in-progress' });
    expect(first.progress.current[0]).toBe('🔄 in progress · stage `PRODUCTION_TRAFFIC_SHIFT`');
    expect(first.progress.record).toEqual([
      '03:00:00 stage PRODUCTION_TRAFFIC_SHIFT · new `web:43`: 2/2 running, production 0%, test 100% · previous `web:42`: 2/2 running, production 100%, test 0%',
      '03:00:00 status IN_PROGRESS',
    ]);
    const again = observeServiceDeployment(paused('PRODUCTION_TRAFFIC_SHIFT', { lifecycleHookDetails: [] }), first.progress, { at, gates: [] });
    expect(again.progress.record).toHaveLength(2);
    expect(observeServiceDeployment({ ...paused('CLEAN_UP'), status: 'SUCCESSFUL' }, start, { at, gates: [] }).verdict).toEqual({ state: 'completed' });
    expect(observeServiceDeployment({ status: 'ROLLBACK_SUCCESSFUL', statusReason: 'Hook <timed> out' }, start, { at, gates: [] }).verdict).toEqual({
      state: 'rolled-back',
      status: 'ROLLBACK_SUCCESSFUL',
      reason: 'Hook &lt;timed&gt; out',
    });
    expect(observeServiceDeployment({ status: 'STOPPED' }, start, { at, gates: [] }).verdict.state).toBe('stopped');
  });

  it('calls the new revision failing at the breaker threshold only when ECS would not roll back itself', () => {
    const sd = paused('SCALE_UP', { lifecycleHookDetails: [] });
    const failing = { newRevision: { failedTasks: 3 }, desiredCount: 2, at, gates: [] };
    expect(observeServiceDeployment(sd, start, failing).verdict.state).toBe('failing');
    expect(observeServiceDeployment(sd, start, { ...failing, breakerRollback: true }).verdict.state).toBe('in-progress');
    expect(observeServiceDeployment(sd, start, { ...failing, newRevision: { failedTasks: 2 } }).verdict.state).toBe('in-progress');
  });

  it('records each step of production traffic within one stage: the steps of a linear deploy', () => {
    const step = (production: number) =>
      paused('PRODUCTION_TRAFFIC_SHIFT', {
        lifecycleHookDetails: [],
        deploymentConfiguration: { strategy: 'LINEAR', linearConfiguration: { stepPercent: 25 } },
        targetServiceRevision: { arn: 'r/2', requestedTaskCount: 2, runningTaskCount: 2, requestedProductionTrafficWeight: production },
      });
    let progress = start;
    const shown: string[] = [];
    for (const production of [25, 25, 50, 75]) {
      progress = observeServiceDeployment(step(production), progress, { at, gates: [] }).progress;
      shown.push(progress.current[0]!);
    }
    // The living message names the step.
    expect(shown.at(-1)).toBe('🔄 in progress · stage `PRODUCTION_TRAFFIC_SHIFT` (step 3 of 4)');
    expect(progress.record.filter((l) => l.includes(' stage ')).map((l) => /new `web:43`: 2\/2 running, production (\d+)%/.exec(l)?.[1])).toEqual([
      '25',
      '50',
      '75',
    ]);
  });

  it('reports a PAUSE awaiting action once, gated only at a stage listed in the gates', () => {
    const sd = paused('POST_TEST_TRAFFIC_SHIFT');
    expect(pendingPause(sd, [], ['POST_TEST_TRAFFIC_SHIFT'])).toEqual({
      hookId: 'ecs-pause-abc',
      stage: 'POST_TEST_TRAFFIC_SHIFT',
      expiresAt: at + 3_600_000,
      timeoutAction: 'ROLLBACK',
      gated: true,
    });
    expect(pendingPause(sd, [], ['PRE_SCALE_UP'])?.gated).toBe(false);
    expect(pendingPause(sd, ['ecs-pause-abc'], ['POST_TEST_TRAFFIC_SHIFT'])).toBeUndefined();
    expect(
      pendingPause({ ...sd, lifecycleHookDetails: [{ hookId: 'x', targetType: 'AWS_LAMBDA', status: 'IN_PROGRESS' }] }, [], ['POST_TEST_TRAFFIC_SHIFT']),
    ).toBeUndefined();
  });

  it('shows what runs on green at a gate, the test listener rule, and when ECS times the hook out', () => {
    const sd = paused('POST_TEST_TRAFFIC_SHIFT');
    const lines = gateDetails({
      sd,
      pause: pendingPause(sd, [], ['POST_TEST_TRAFFIC_SHIFT'])!,
      taskDefinition: TD(43),
      sourceTaskDefinition: TD(42),
      testListenerRule: 'arn:rule',
    });
    expect(lines[0]).toBe('green (new) `web:43`: 2/2 running, production 0%, test 100%');
    expect(lines[1]).toBe('blue (running) `web:42`: 2/2 running, production 100%, test 0%');
    expect(lines[2]).toBe('test listener rule: `arn:rule`');
    expect(lines[3]).toContain('ECS applies its timeout action (ROLLBACK) at 04:00 UTC');
  });

  it('words the gate per strategy from the service deployment: green beside blue, a canary or linear step by its share of production traffic', () => {
    const weights = (production: number, test = 0, running = 2) => ({
      targetServiceRevision: {
        arn: 'r/2',
        runningTaskCount: running,
        requestedTaskCount: 2,
        requestedProductionTrafficWeight: production,
        requestedTestTrafficWeight: test,
      },
    });
    const bg = paused('POST_TEST_TRAFFIC_SHIFT', { deploymentConfiguration: { strategy: 'BLUE_GREEN' } });
    expect(gateSituation(bg, TD(43), true)).toBe('green runs the new revision `web:43` beside blue with 100% of test traffic and no production traffic yet');
    expect(gateSituation({ ...bg, ...weights(100, 100) }, TD(43), true)).toBe('green (`web:43`) takes all production traffic; blue still runs beside it');
    expect(gateSituation({ ...bg, ...weights(0, 0, 0) }, TD(43), true)).toBe('green (`web:43`) has no task running yet; blue serves all traffic');
    const canary = paused('POST_PRODUCTION_TRAFFIC_SHIFT', { deploymentConfiguration: { strategy: 'CANARY' }, ...weights(10) });
    expect(gateSituation(canary, TD(43), false)).toBe('the canary `web:43` takes 10% of production traffic, the previous revision 90%');
    const linear = paused('POST_PRODUCTION_TRAFFIC_SHIFT', {
      deploymentConfiguration: { strategy: 'LINEAR', linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 } },
      ...weights(50),
    });
    expect(gateSituation(linear, TD(43), false)).toBe('the new revision `web:43` takes 50% of production traffic (step 2 of 4), the previous revision 50%');
    expect(gateSituation({ ...linear, ...weights(0, 100) }, TD(43), true)).toBe(
      'the new revision `web:43` runs beside the previous revision with 100% of test traffic and no production traffic yet',
    );
    // Without a test listener rule, test traffic reaches nothing: not named.
    expect(gateSituation({ ...linear, ...weights(0, 100) }, TD(43), false)).toBe(
      'the new revision `web:43` runs beside the previous revision with no production traffic yet',
    );
    // Not blue/green: no blue and green in the details either.
    const lines = gateDetails({
      sd: canary,
      pause: pendingPause(canary, [], ['POST_PRODUCTION_TRAFFIC_SHIFT'])!,
      taskDefinition: TD(43),
      sourceTaskDefinition: TD(42),
    });
    expect(lines.slice(0, 3)).toEqual([
      'new `web:43`: 2/2 running, production 10%, test 0%',
      'previous `web:42`: 2/2 running, production 100%, test 0%',
      'no test listener rule: the new revision has no test traffic',
    ]);
  });

  it('keeps the text of AWS as AWS wrote it in the plain-text record, escaped only where it is shown in Slack', () => {
    const reason = 'Hook <ecs-pause-1> timed out & rolled back: a &amp; b';
    const seen = observeServiceDeployment({ ...paused('CLEAN_UP'), status: 'ROLLBACK_SUCCESSFUL', statusReason: reason }, start, { at, gates: [] });
    expect(seen.progress.record).toContain(`03:00:00 status ROLLBACK_SUCCESSFUL: ${reason}`);
    expect(seen.progress.current).toContain('_Hook &lt;ecs-pause-1&gt; timed out &amp; rolled back: a &amp;amp; b_');
  });

  it('ends as ECS ended it: no second rollback for ECS own, the reason of the bot for its own', () => {
    const watched = (w: Partial<StagedWatch>): StagedWatch => ({ verdict: { state: 'completed' }, seconds: 600, polls: 10, record: [], gates: [], ...w });
    const input = { target: 'web-bg', plan: { action: 'deploy' as const, currentTaskDefinition: TD(42), changes: [], imageNotes: [] } };
    expect(stagedEnding(watched({}), input, TD(43))).toMatchObject({ outcome: 'success', summary: '`web:43` is live after 10 min 0 s' });
    const ecs = stagedEnding(watched({ verdict: { state: 'rolled-back', status: 'ROLLBACK_SUCCESSFUL', reason: 'circuit breaker' } }), input, TD(43));
    expect(ecs).toMatchObject({ outcome: 'failure', rolledBack: true, taskDefinition: TD(42) });
    expect(ecs.detail).toContain('The bot did not roll back a second time.');
    const gate = stagedEnding(
      watched({ verdict: { state: 'rolled-back', status: 'ROLLBACK_SUCCESSFUL', reason: '' }, botRollback: 'rejected at the `X` gate by <@U0BOB>' }),
      input,
      TD(43),
    );
    expect(gate.summary).toBe('rejected at the `X` gate by <@U0BOB>; rolled back to `web:42`');
    expect(stagedEnding(watched({ verdict: { state: 'rolled-back', status: 'ROLLBACK_FAILED', reason: 'no' } }), input, TD(43)).detail).toMatch(/^🔥/);
  });
});
