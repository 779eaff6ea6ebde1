import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { putRole, trustPolicy } from '../local/aws/services/iam';

/** The local EventBridge Scheduler through the SDK: its API and errors, and schedules run on the emulator clock with their role judged by IAM. */
const ACCOUNT = '111111111111';
const FUNCTION = 'scheduled-target';
const FUNCTION_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${FUNCTION}`;
const START = Date.parse('2026-03-28T00:00:00Z');

let emu: AwsEmulator;
let scheduler: SchedulerClient;
let received: unknown[];

function role(
  name: string,
  trust = trustPolicy({ Service: 'scheduler.amazonaws.com' }, { StringEquals: { 'aws:SourceAccount': ACCOUNT } }),
  resource = FUNCTION_ARN,
) {
  putRole(emu.state, ACCOUNT, name, {
    trust,
    inline: { invoke: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: resource }] } },
  });
  return `arn:aws:iam::${ACCOUNT}:role/${name}`;
}
const create = (name: string, roleArn: string, extra: Record<string, unknown> = {}) =>
  emu.scheduler.create(ACCOUNT, 'us-east-1', {
    Name: name,
    GroupName: 'bot',
    ScheduleExpression: 'cron(30 2 * * ? *)',
    ScheduleExpressionTimezone: 'Europe/Paris',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: FUNCTION_ARN, RoleArn: roleArn, Input: '{"schedule":"x","scheduledTime":"<aws.scheduler.scheduled-time>"}' },
    ...extra,
  });

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0, startTime: START });
  received = [];
  emu.lambda.register(FUNCTION, { handler: async (event: unknown) => void received.push(event), timeoutMs: 10_000 });
  scheduler = new SchedulerClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
});
afterEach(async () => {
  scheduler.destroy();
  await emu.close();
});

describe('the local EventBridge Scheduler', () => {
  it('held (a world that did not ask to play schedules), lets time pass its runs without delivering them, and plays from then on once released', async () => {
    create('nightly', role('scheduler-ok'));
    emu.scheduler.playing = false;
    emu.clock.advance(86_400_000);
    await emu.lambda.idle();
    expect(received).toEqual([]);
    // The schedule is still there for Scheduler's API, and an explicit delivery still runs.
    expect((await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }))).State).toBe('ENABLED');
    emu.scheduler.playing = true;
    emu.clock.advance(2 * 86_400_000);
    await emu.lambda.idle();
    // Only the run after the release: the held one did not pile up.
    expect(received).toEqual([{ schedule: 'x', scheduledTime: '2026-03-30T00:30:00Z' }]);
  });

  it('runs a schedule at its local times on the emulator clock, skipping the time DST removes, with the scheduled time in its input', async () => {
    create('nightly', role('scheduler-ok'));
    // 2026-03-29 02:30 does not exist in Paris: the runs of three days are the 28th and the 30th.
    emu.clock.advance(3 * 86_400_000);
    await emu.lambda.idle();
    expect(received).toEqual([
      { schedule: 'x', scheduledTime: '2026-03-28T01:30:00Z' },
      { schedule: 'x', scheduledTime: '2026-03-30T00:30:00Z' },
    ]);
    expect(emu.lambda.invocations.map((i) => i.caller)).toEqual([
      `arn:aws:sts::${ACCOUNT}:assumed-role/scheduler-ok/scheduler`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/scheduler-ok/scheduler`,
    ]);
  });

  it('does not invoke when the role does not trust Scheduler for this account, or may not invoke the function', async () => {
    create(
      'untrusted',
      role('scheduler-other-account', trustPolicy({ Service: 'scheduler.amazonaws.com' }, { StringEquals: { 'aws:SourceAccount': '999999999999' } })),
    );
    create('no-grant', role('scheduler-elsewhere', undefined, `${FUNCTION_ARN}-other`));
    emu.clock.advance(86_400_000);
    await emu.lambda.idle();
    expect(received).toEqual([]);
    expect(emu.scheduler.deliveries.map((d) => [d.schedule, d.outcome, d.error])).toEqual([
      ['untrusted', 'refused', expect.stringContaining('sts:AssumeRole')],
      ['no-grant', 'refused', expect.stringContaining('lambda:InvokeFunction')],
    ]);
  });

  it('GetSchedule and ListSchedules answer as Scheduler does; an unknown schedule is ResourceNotFoundException', async () => {
    create('nightly', role('scheduler-ok'), { Description: 'the dump' });
    const got = await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }));
    expect(got).toMatchObject({
      Arn: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/bot/nightly`,
      State: 'ENABLED',
      ScheduleExpression: 'cron(30 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      Description: 'the dump',
      CreationDate: new Date(START),
      Target: { Arn: FUNCTION_ARN },
    });
    const missing = await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'default' })).catch((e: unknown) => e);
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Schedule nightly does not exist.', $metadata: { httpStatusCode: 404 } });
    const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: 'bot' }));
    expect(listed.Schedules?.map((s) => [s.Name, s.State])).toEqual([['nightly', 'ENABLED']]);
  });

  it('UpdateSchedule replaces the schedule (disabled: no run) and refuses what Scheduler refuses with ValidationException', async () => {
    const roleArn = role('scheduler-ok');
    create('nightly', roleArn);
    const current = await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }));
    const update = (changes: Record<string, unknown>) =>
      scheduler.send(
        new UpdateScheduleCommand({
          Name: 'nightly',
          GroupName: 'bot',
          ScheduleExpression: current.ScheduleExpression,
          ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
          Target: current.Target,
          FlexibleTimeWindow: current.FlexibleTimeWindow,
          ...changes,
        }),
      );
    await update({ State: 'DISABLED' });
    expect((await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }))).State).toBe('DISABLED');
    emu.clock.advance(86_400_000);
    await emu.lambda.idle();
    expect(received).toEqual([]);
    const bad = await update({ ScheduleExpression: 'cron(30 2 * * * *)' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    const zone = await update({ ScheduleExpressionTimezone: 'Mars/Olympus' }).catch((e: unknown) => e);
    expect(zone).toMatchObject({ name: 'ValidationException', message: 'Invalid request provided: Provided timezone is not supported: Mars/Olympus' });
    const absent = await scheduler
      .send(
        new UpdateScheduleCommand({
          ...(await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }))),
          Name: 'gone',
          GroupName: 'bot',
        } as never),
      )
      .catch((e: unknown) => e);
    expect(absent).toMatchObject({ name: 'ResourceNotFoundException' });
    // Left out of the request, the time zone is gone (UpdateSchedule replaces the whole schedule).
    await update({ ScheduleExpressionTimezone: undefined, State: 'ENABLED' });
    expect((await scheduler.send(new GetScheduleCommand({ Name: 'nightly', GroupName: 'bot' }))).ScheduleExpressionTimezone).toBeUndefined();
  });
});
