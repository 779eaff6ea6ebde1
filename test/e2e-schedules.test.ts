import { describe, expect, it } from 'vitest';
import { localStack } from '../local/iam/enforce';
import { SCHEDULED_FUNCTION } from '../local/world';
import { nextRun, parseScheduleExpression } from '../src/schedules/expression';
import { channelView, ephemeral, teamAudit, useConfigurableWorld } from './support/channel';

/**
 * Schedules end to end: the schedules serverless.yml declares, created in the local Scheduler, run
 * on the emulator's clock → Scheduler assumes its execution role and invokes the scheduled function
 * (IAM as deployed) → the signed API's path as `schedule:<name>` → the worker → the thread.
 */
const ctx = useConfigurableWorld({ playSchedules: true });
const world = () => ctx().world;
const { parents, threadText, finished } = channelView(world, 'C0OPS');
const NIGHTLY = localStack().schedules.find((s) => s.name === 'nightly-backup')!;

const scheduledInvocations = () => world().aws.lambda.invocations.filter((i) => i.functionName === SCHEDULED_FUNCTION && i.endedAt);
const newParent = (before: number, text: RegExp) =>
  world().slack.waitFor(
    () =>
      parents()
        .slice(before)
        .find((m) => text.test(m.text)),
    20_000,
  );

describe('schedules', () => {
  it('the nightly backup appears in the channel as a scheduled run when simulated time reaches 02:00 Paris; delivered twice, it runs once', async () => {
    const before = parents().length;
    const due = nextRun(parseScheduleExpression(NIGHTLY.expression), NIGHTLY.timezone!, world().aws.clock.now())!;
    world().aws.clock.advance(due - world().aws.clock.now() + 1000);
    const parent = await newParent(before, /Scheduled run of `nightly-backup`/);
    const dueText = `${new Date(due).toISOString().slice(0, 19)}Z`;
    expect(parent.text).toContain(
      `⏰ Scheduled run of \`nightly-backup\` (\`cron(0 2 * * ? *)\` \`Europe/Paris\`, declared in the configuration; due \`${dueText}\`) ran \`/ecs run backup.sh nightly\``,
    );
    expect(await finished(parent.ts)).toMatch(/^✅ .*exit 0/);
    expect(world().aws.scheduler.deliveries.filter((d) => d.schedule === 'nightly-backup')).toEqual([
      expect.objectContaining({ scheduledTime: dueText, outcome: 'invoked' }),
    ]);
    // Scheduler delivers at least once: the same scheduled time again runs nothing.
    const invoked = scheduledInvocations().length;
    world().aws.scheduler.deliver('nightly-backup', due);
    for (let i = 0; i < 200 && scheduledInvocations().length === invoked; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    await world().idle();
    expect(scheduledInvocations().at(-1)?.result).toMatchObject({ statusCode: 200, body: { replayed: true } });
    expect(parents().filter((m) => m.text.includes('Scheduled run of `nightly-backup`'))).toHaveLength(1);
    const records = (await teamAudit(world())).filter((r) => r.userId === 'schedule:nightly-backup');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ via: 'schedule', principal: 'schedule:nightly-backup', verb: 'run', script: 'backup.sh', outcome: 'success' });
  });

  it('a hand-off that failed is retried by Lambda a minute later, and runs once', async () => {
    const w = world();
    const due = w.aws.clock.now() - 5000;
    const before = parents().length;
    const invoked = scheduledInvocations().length;
    // The scheduled function cannot hand the run to the worker once: it throws, nothing ran, the key is free again.
    const lift = w.aws.faults.fail('lambda:InvokeFunction', { code: 'ResourceNotFoundException', message: 'Function not found', status: 404 }, 1);
    w.aws.scheduler.deliver('nightly-backup', due);
    for (let i = 0; i < 200 && scheduledInvocations().length === invoked; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    lift();
    expect(scheduledInvocations().at(-1)?.error?.errorType).toBe('ScheduledHandOffError');
    const refused = (await teamAudit(w)).find((r) => r.userId === 'schedule:nightly-backup' && r.outcome === 'error');
    expect(refused?.reason).toBe('the worker could not be invoked: ResourceNotFoundException');
    expect(parents().length).toBe(before);
    // Lambda's first retry of the asynchronous invocation, on the emulator clock.
    w.aws.clock.advance(61_000);
    const parent = await newParent(before, /Scheduled run of `nightly-backup`/);
    expect(await finished(parent.ts)).toMatch(/^✅/);
    await w.idle();
    expect(parents().filter((m, i) => i >= before && m.text.includes('Scheduled run of `nightly-backup`'))).toHaveLength(1);
  });

  it('never overlaps itself: a run due while the previous one runs is skipped, said in its thread and the audit', async () => {
    const { setConfig, baseConfig } = ctx();
    setConfig({
      ...baseConfig,
      schedules: {
        ...baseConfig.schedules,
        'slow-drill': { expression: 'rate(1 minute)', timezone: 'UTC', script: 'slow.sh', args: ['6'], channel: 'C0OPS', enabled: true },
      },
    });
    try {
      // Deployed as CloudFormation would from the changed configuration: same target and role.
      world().aws.scheduler.create('111111111111', 'us-east-1', {
        Name: 'slow-drill',
        GroupName: NIGHTLY.groupName,
        ScheduleExpression: 'rate(1 minute)',
        State: 'DISABLED',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { ...NIGHTLY.target, Input: JSON.stringify({ schedule: 'slow-drill', scheduledTime: '<aws.scheduler.scheduled-time>' }) },
      });
      const before = parents().length;
      const t = world().aws.clock.now();
      world().aws.scheduler.deliver('slow-drill', t, NIGHTLY.groupName);
      const first = await newParent(before, /Scheduled run of `slow-drill`/);
      // Running: its living message is in the thread.
      await world().slack.waitFor(() => (threadText(first.ts).includes('slow.sh') ? true : undefined), 20_000);
      world().aws.scheduler.deliver('slow-drill', t + 60_000, NIGHTLY.groupName);
      const skipped = await world().slack.waitFor(
        () =>
          parents()
            .slice(before)
            .find((m) => m.ts !== first.ts && m.text.includes('Scheduled run of `slow-drill`')),
        20_000,
      );
      expect(await finished(skipped.ts)).toContain('skipped: previous run still running');
      expect(threadText(skipped.ts)).toContain('⏭️ Skipped: the previous run of `slow.sh` on `manager` is still running');
      expect(await finished(first.ts)).toMatch(/^✅/);
      await world().idle();
      const reasons = (await teamAudit(world())).filter((r) => r.userId === 'schedule:slow-drill').map((r) => r.reason);
      expect(reasons).toContain('skipped: previous run still running');
    } finally {
      setConfig(undefined);
    }
  });

  it('/ecs schedules lists the schedule with its next run; pause by an admin stops it, a viewer is refused, resume starts it again', async () => {
    const w = world();
    const list = async () => {
      const before = parents().length;
      ephemeral(await w.slash('U0BOB', 'schedules'));
      const parent = await newParent(before, /ran `\/ecs schedules`/);
      await finished(parent.ts);
      return threadText(parent.ts);
    };
    // The bot's own clock is the real one (Date.now), the emulator's runs ahead once advanced.
    const due = nextRun(parseScheduleExpression('cron(0 2 * * ? *)'), 'Europe/Paris', Date.now())!;
    const listed = await list();
    expect(listed).toContain('`nightly-backup`: `/ecs run backup.sh nightly` in <#C0OPS> · `cron(0 2 * * ? *)` `Europe/Paris` · 🟢 ENABLED');
    expect(listed).toContain(`(${new Date(due).toISOString().slice(0, 16).replace('T', ' ')} UTC)`);
    expect(listed).toContain('last: success');

    // Bob is a viewer and approver: no admin role, refused at the ack, nothing changed.
    expect(ephemeral(await w.slash('U0BOB', 'schedules pause nightly-backup'))).toMatch(/admin/);

    let before = parents().length;
    await w.slash('U0ALICE', 'schedules pause nightly-backup');
    let parent = await newParent(before, /ran `\/ecs schedules pause nightly-backup`/);
    expect(await finished(parent.ts)).toContain('nightly-backup: paused');
    expect(await list()).toContain('⏸️ DISABLED · no next run');
    const deliveries = w.aws.scheduler.deliveries.length;
    const paused = nextRun(parseScheduleExpression('cron(0 2 * * ? *)'), 'Europe/Paris', w.aws.clock.now())!;
    w.aws.clock.advance(paused - w.aws.clock.now() + 1000);
    expect(w.aws.scheduler.deliveries.length).toBe(deliveries);

    before = parents().length;
    await w.slash('U0ALICE', 'schedules resume nightly-backup');
    parent = await newParent(before, /ran `\/ecs schedules resume nightly-backup`/);
    expect(await finished(parent.ts)).toContain('nightly-backup: resumed');
    expect(threadText(parent.ts)).toContain('▶️ Resumed `nightly-backup`: next run');
    const audit = (await teamAudit(w)).filter((r) => r.verb === 'schedules' && r.userId === 'U0ALICE');
    expect(audit.map((r) => r.commandText)).toEqual(expect.arrayContaining(['/ecs schedules pause nightly-backup', '/ecs schedules resume nightly-backup']));
    expect((await teamAudit(w)).find((r) => r.verb === 'schedules' && r.userId === 'U0BOB' && r.decision === 'denied')).toBeDefined();
    // Enabled again: the next 02:00 Paris runs.
    const next = nextRun(parseScheduleExpression('cron(0 2 * * ? *)'), 'Europe/Paris', w.aws.clock.now())!;
    before = parents().length;
    w.aws.clock.advance(next - w.aws.clock.now() + 1000);
    await newParent(before, /Scheduled run of `nightly-backup`/);
    await w.idle();
  });
});
