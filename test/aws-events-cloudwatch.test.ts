/**
 * The emulator's CloudWatch alarms through the SDK's own client (JSON 1.0, query-compatible) and the
 * query protocol, and the "CloudWatch Alarm State Change" event each transition emits, compared
 * with AWS's example (shared/reference/ecs-events.md §6).
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  InvalidNextToken,
  InvalidParameterValueException,
  PutMetricAlarmCommand,
  ResourceNotFound,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { CollectingSink, keys, MILLIS_0000, REFERENCE_KEYS, SECONDS_Z } from './support/event-sink';

let emu: AwsEmulator;
let cw: CloudWatchClient;
let sink: CollectingSink;
const ALARM_ARN = 'arn:aws:cloudwatch:us-east-1:111111111111:alarm:';

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  sink = new CollectingSink();
  emu.state.events = sink;
  cw = new CloudWatchClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
});
afterEach(async () => {
  cw.destroy();
  await emu.close();
});

const queueDepth = {
  AlarmName: 'queue-depth',
  AlarmDescription: 'Too many messages waiting',
  Namespace: 'AWS/SQS',
  MetricName: 'ApproximateNumberOfMessagesVisible',
  Dimensions: [{ Name: 'QueueName', Value: 'jobs' }],
  Statistic: 'Maximum' as const,
  Period: 300,
  EvaluationPeriods: 2,
  Threshold: 100,
  ComparisonOperator: 'GreaterThanThreshold' as const,
};

describe('CloudWatch alarms', () => {
  it('seeds web-5xx and web-cpu-high on the web service, both OK', async () => {
    const { MetricAlarms } = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'web-' }));
    expect(MetricAlarms!.map((a) => [a.AlarmName, a.Namespace, a.MetricName, a.StateValue])).toEqual([
      ['web-5xx', 'AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 'OK'],
      ['web-cpu-high', 'AWS/ECS', 'CPUUtilization', 'OK'],
    ]);
    expect(MetricAlarms![1]!.Dimensions).toEqual([
      { Name: 'ClusterName', Value: 'main' },
      { Name: 'ServiceName', Value: 'web' },
    ]);
    expect(MetricAlarms![0]!.Dimensions!.map((d) => d.Value)).toEqual([
      expect.stringMatching(/^app\/main\/\w+$/),
      expect.stringMatching(/^targetgroup\/web\/\w+$/),
    ]);
    expect(JSON.parse(MetricAlarms![0]!.StateReasonData!)).toMatchObject({ version: '1.0', threshold: 10 });
    expect(sink.events).toEqual([]); // seeded before anyone listened
  });

  it('PutMetricAlarm creates an INSUFFICIENT_DATA alarm without an event; DescribeAlarms shows it', async () => {
    await cw.send(new PutMetricAlarmCommand(queueDepth));
    const { MetricAlarms } = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['queue-depth'] }));
    expect(MetricAlarms).toEqual([
      expect.objectContaining({
        AlarmName: 'queue-depth',
        AlarmArn: `${ALARM_ARN}queue-depth`,
        StateValue: 'INSUFFICIENT_DATA',
        StateReason: 'Unchecked: Initial alarm creation',
        Threshold: 100,
        Period: 300,
        EvaluationPeriods: 2,
        ActionsEnabled: true,
        StateUpdatedTimestamp: new Date(emu.clock.now()),
      }),
    ]);
    expect(sink.events).toEqual([]);
  });

  it('SetAlarmState emits the state change as AWS shows it: reasonData a JSON string, +0000 timestamps, metricStat', async () => {
    await cw.send(new PutMetricAlarmCommand(queueDepth));
    emu.clock.advance(60_000);
    const reasonData = JSON.stringify({ version: '1.0', statistic: 'Maximum', period: 300, recentDatapoints: [250.0], threshold: 100.0 });
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: 'queue-depth',
        StateValue: 'ALARM',
        StateReason: 'Threshold Crossed: 1 datapoint [250.0] was greater than the threshold (100.0).',
        StateReasonData: reasonData,
      }),
    );
    const [event] = sink.of('CloudWatch Alarm State Change');
    expect(keys(event!)).toEqual(REFERENCE_KEYS.envelope);
    expect(event).toMatchObject({ source: 'aws.cloudwatch', account: '111111111111', region: 'us-east-1', resources: [`${ALARM_ARN}queue-depth`] });
    expect(event!.time).toMatch(SECONDS_Z);
    expect(keys(event!.detail)).toEqual(REFERENCE_KEYS.alarm);
    const { state, previousState, configuration } = event!.detail as Record<string, Record<string, unknown>>;
    expect(keys(state!)).toEqual(REFERENCE_KEYS.alarmState);
    expect(state).toMatchObject({ value: 'ALARM', reasonData });
    expect(typeof state!.reasonData).toBe('string');
    expect(state!.timestamp).toMatch(MILLIS_0000);
    // The initial state has no reason data, as AWS's "Unchecked: Initial alarm creation".
    expect(previousState).toEqual({ value: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation', timestamp: expect.stringMatching(MILLIS_0000) });
    expect(configuration).toEqual({
      description: 'Too many messages waiting',
      metrics: [
        {
          id: expect.any(String),
          metricStat: {
            metric: { dimensions: { QueueName: 'jobs' }, name: 'ApproximateNumberOfMessagesVisible', namespace: 'AWS/SQS' },
            period: 300,
            stat: 'Maximum',
          },
          returnData: true,
        },
      ],
    });

    // Back to OK: previousState is what state was; the same state again changes nothing.
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'queue-depth', StateValue: 'OK', StateReason: 'back to normal' }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'queue-depth', StateValue: 'OK', StateReason: 'still normal' }));
    const events = sink.of('CloudWatch Alarm State Change');
    expect(events).toHaveLength(2);
    expect(events[1]!.detail.previousState).toEqual(state);
    expect((await cw.send(new DescribeAlarmsCommand({ StateValue: 'OK', AlarmNames: ['queue-depth'] }))).MetricAlarms![0]).toMatchObject({
      StateReason: 'back to normal',
    });
  });

  it('a seeded ECS alarm going off names its ClusterName/ServiceName dimensions', async () => {
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'web-cpu-high', StateValue: 'ALARM', StateReason: 'test' }));
    const [event] = sink.of('CloudWatch Alarm State Change');
    expect(event!.detail).toMatchObject({
      alarmName: 'web-cpu-high',
      previousState: { value: 'OK', reasonData: expect.any(String) },
      configuration: { metrics: [{ metricStat: { metric: { namespace: 'AWS/ECS', dimensions: { ClusterName: 'main', ServiceName: 'web' } } } }] },
    });
  });

  it('answers errors as CloudWatch does', async () => {
    const missing = await cw.send(new SetAlarmStateCommand({ AlarmName: 'nope', StateValue: 'ALARM', StateReason: 'x' })).catch((e) => e);
    expect(missing).toBeInstanceOf(ResourceNotFound);
    expect(missing.message).toBe('Alarm nope not found');
    expect(missing.$metadata.httpStatusCode).toBe(404);

    const period = await cw.send(new PutMetricAlarmCommand({ ...queueDepth, Period: 45 })).catch((e) => e);
    expect(period).toBeInstanceOf(InvalidParameterValueException);
    expect(period.Code ?? period.Error?.Code).toBe('InvalidParameterValue');

    const badJson = await cw
      .send(new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'ALARM', StateReason: 'x', StateReasonData: '{nope' }))
      .catch((e) => e);
    expect(badJson.name).toBe('InvalidFormatFault');
    expect(sink.events).toEqual([]);

    const token = await cw.send(new DescribeAlarmsCommand({ NextToken: 'garbage' })).catch((e) => e);
    expect(token).toBeInstanceOf(InvalidNextToken);
  });

  it('pages DescribeAlarms with MaxRecords and NextToken', async () => {
    for (const n of [1, 2, 3]) await cw.send(new PutMetricAlarmCommand({ ...queueDepth, AlarmName: `q-${n}` }));
    const first = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'q-', MaxRecords: 2 }));
    expect(first.MetricAlarms!.map((a) => a.AlarmName)).toEqual(['q-1', 'q-2']);
    const second = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'q-', MaxRecords: 2, NextToken: first.NextToken }));
    expect(second.MetricAlarms!.map((a) => a.AlarmName)).toEqual(['q-3']);
    expect(second.NextToken).toBeUndefined();
  });

  it('speaks the query protocol too (Version 2010-08-01), with query error codes', async () => {
    // The emulator reads who signed from the Authorization header (it does not verify signatures).
    const authorization = 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0';
    const call = async (body: string) => {
      const res = await fetch(emu.url, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body });
      return { status: res.status, text: await res.text() };
    };
    const described = await call('Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=web-5xx');
    expect(described.status).toBe(200);
    expect(described.text).toContain('<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">');
    expect(described.text).toContain('<AlarmName>web-5xx</AlarmName>');
    const set = await call('Action=SetAlarmState&Version=2010-08-01&AlarmName=web-5xx&StateValue=ALARM&StateReason=spike');
    expect(set.status).toBe(200);
    expect(sink.of('CloudWatch Alarm State Change')).toHaveLength(1);
    const bad = await call(
      'Action=PutMetricAlarm&Version=2010-08-01&AlarmName=x&EvaluationPeriods=1&ComparisonOperator=GreaterThanThreshold&Threshold=1&Namespace=N&MetricName=M&Statistic=Sum&Period=7',
    );
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('<Code>InvalidParameterValue</Code>');
  });
});
