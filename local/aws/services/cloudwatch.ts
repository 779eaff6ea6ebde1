/**
 * Amazon CloudWatch, alarms only: PutMetricAlarm, DescribeAlarms and SetAlarmState as the API
 * reference defines them, and the "CloudWatch Alarm State Change" event (source aws.cloudwatch)
 * on every state transition, as ../../shared/reference/ecs-events.md §6 shows it: `reasonData` a
 * JSON string, timestamps `…+0000` with milliseconds, `configuration.metrics[].metricStat`.
 *
 * Two dialects answer: the SDK v3 client speaks JSON 1.0 to `GraniteServiceVersion20100801` with
 * awsQueryCompatible errors (the query code in `x-amzn-query-error`); the CLI and older SDKs use
 * the query protocol, Version 2010-08-01. Both share these handlers (query leaves are strings).
 */
import type { MetricAlarm, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { eventTime } from '../ecs-events';
import { AwsError, asList, type ActionDefinition, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { uuid, type EmulatorState, type RegionState } from '../state';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
const STATE_VALUES: AlarmStateValue[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];
const COMPARISON_OPERATORS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
];
const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'];
/** CloudWatch's quota of metric alarms per region. */
const MAX_ALARMS = 10_000;

const stores = new WeakMap<RegionState, Map<string, MetricAlarm>>();
export const alarmsState = (r: RegionState): Map<string, MetricAlarm> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;
export const alarmArn = (r: Pick<RegionState, 'region' | 'accountId'>, name: string) => `arn:aws:cloudwatch:${r.region}:${r.accountId}:alarm:${name}`;

/** The errors' JSON shape names, and the query codes the API reference lists for them. */
const QUERY_CODES: Record<string, string> = {
  InvalidParameterValueException: 'InvalidParameterValue',
  InvalidParameterCombinationException: 'InvalidParameterCombination',
  MissingRequiredParameterException: 'MissingParameter',
  LimitExceededFault: 'LimitExceeded',
  InvalidFormatFault: 'InvalidFormat',
  AccessDeniedException: 'AccessDenied',
};
const invalidValue = (message: string) => new AwsError('InvalidParameterValueException', message);
const combination = (message: string) => new AwsError('InvalidParameterCombinationException', message);
const missing = (member: string) => new AwsError('MissingRequiredParameterException', `The parameter ${member} is required.`);
const notNull = (member: string) => AwsError.common('Validation', `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);

/** `2019-10-02T17:04:40.989+0000`, CloudWatch's timestamp format in its events and reason data. */
export const cloudWatchTime = (t: number) => new Date(t).toISOString().replace('Z', '+0000');

const num = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : Number(v));
const bool = (v: unknown) => (v === undefined ? undefined : v === true || v === 'true');

function metricOf(p: Params): Partial<MetricAlarm> {
  const metrics = asList<Params>(p.Metrics);
  const single = p.MetricName !== undefined || p.Namespace !== undefined;
  if (metrics.length && single) throw combination('Metrics list and MetricName/Namespace cannot both be specified.');
  if (metrics.length) {
    return {
      Metrics: metrics.map(
        (m): MetricDataQuery => ({
          Id: String(m.Id),
          ...(m.Expression ? { Expression: String(m.Expression) } : {}),
          ...(m.MetricStat ? { MetricStat: { ...m.MetricStat, Period: num(m.MetricStat.Period), Metric: { ...m.MetricStat.Metric, Dimensions: asList(m.MetricStat.Metric?.Dimensions) } } } : {}),
          ...(m.Label ? { Label: String(m.Label) } : {}),
          ReturnData: bool(m.ReturnData) ?? true,
          ...(m.Period !== undefined ? { Period: num(m.Period) } : {}),
        }),
      ),
    };
  }
  if (!p.MetricName) throw missing('MetricName');
  if (!p.Namespace) throw missing('Namespace');
  if (p.Statistic && p.ExtendedStatistic) throw combination('Statistic and ExtendedStatistic cannot both be specified.');
  if (!p.Statistic && !p.ExtendedStatistic) throw missing('Statistic');
  if (p.Statistic && !STATISTICS.includes(p.Statistic)) throw invalidValue(`The parameter Statistic must be one of ${STATISTICS.join(', ')}.`);
  const period = num(p.Period);
  if (period === undefined) throw missing('Period');
  if (!([10, 20, 30].includes(period) || (Number.isInteger(period) && period > 0 && period % 60 === 0))) {
    throw invalidValue('The parameter Period must be 10, 20, 30 or a multiple of 60.');
  }
  const dimensions = asList<{ Name: string; Value: string }>(p.Dimensions);
  if (dimensions.length > 30) throw invalidValue('The collection Dimensions must not have a size greater than 30.');
  return {
    MetricName: String(p.MetricName),
    Namespace: String(p.Namespace),
    ...(p.Statistic ? { Statistic: p.Statistic } : { ExtendedStatistic: String(p.ExtendedStatistic) }),
    Dimensions: dimensions.map((d) => ({ Name: String(d.Name), Value: String(d.Value) })),
    Period: period,
    ...(p.Unit ? { Unit: p.Unit } : {}),
  };
}

/** Creates or replaces an alarm's configuration; an existing alarm keeps its state, as CloudWatch's does. */
export function putMetricAlarm(r: RegionState, p: Params, now: number): MetricAlarm {
  if (!p.AlarmName) throw notNull('alarmName');
  const name = String(p.AlarmName);
  if (name.length > 255) throw invalidValue('The parameter AlarmName must be shorter than 256 characters.');
  const evaluationPeriods = num(p.EvaluationPeriods);
  if (evaluationPeriods === undefined) throw notNull('evaluationPeriods');
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) throw invalidValue('The parameter EvaluationPeriods must be greater than or equal to 1.');
  if (!p.ComparisonOperator) throw notNull('comparisonOperator');
  if (!COMPARISON_OPERATORS.includes(p.ComparisonOperator)) throw invalidValue(`The parameter ComparisonOperator must be one of ${COMPARISON_OPERATORS.join(', ')}.`);
  const threshold = num(p.Threshold);
  if (threshold === undefined && !p.ThresholdMetricId) throw missing('Threshold');
  const alarms = alarmsState(r);
  const existing = alarms.get(name);
  if (!existing && alarms.size >= MAX_ALARMS) throw new AwsError('LimitExceededFault', 'The maximum number of alarms for this account has been reached.');
  const at = new Date(now);
  const alarm: MetricAlarm = {
    AlarmName: name,
    AlarmArn: alarmArn(r, name),
    ...(p.AlarmDescription !== undefined ? { AlarmDescription: String(p.AlarmDescription) } : {}),
    AlarmConfigurationUpdatedTimestamp: at,
    ActionsEnabled: bool(p.ActionsEnabled) ?? true,
    OKActions: asList<string>(p.OKActions),
    AlarmActions: asList<string>(p.AlarmActions),
    InsufficientDataActions: asList<string>(p.InsufficientDataActions),
    StateValue: existing?.StateValue ?? 'INSUFFICIENT_DATA',
    StateReason: existing?.StateReason ?? 'Unchecked: Initial alarm creation',
    ...(existing?.StateReasonData ? { StateReasonData: existing.StateReasonData } : {}),
    StateUpdatedTimestamp: existing?.StateUpdatedTimestamp ?? at,
    ...metricOf(p),
    EvaluationPeriods: evaluationPeriods,
    ...(p.DatapointsToAlarm !== undefined ? { DatapointsToAlarm: num(p.DatapointsToAlarm) } : {}),
    ...(threshold !== undefined ? { Threshold: threshold } : { ThresholdMetricId: String(p.ThresholdMetricId) }),
    ComparisonOperator: p.ComparisonOperator,
    TreatMissingData: p.TreatMissingData ?? 'missing',
    StateTransitionedTimestamp: existing?.StateTransitionedTimestamp ?? at,
  };
  alarms.set(name, alarm);
  return alarm;
}

/** The alarm's `configuration` in its state-change event: the metrics as metric data queries, in camelCase. */
function eventConfiguration(alarm: MetricAlarm): Record<string, unknown> {
  const metricStat = (m: { Namespace?: string; MetricName?: string; Dimensions?: Array<{ Name?: string; Value?: string }> }, period?: number, stat?: string) => ({
    metric: { dimensions: Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value])), name: m.MetricName, namespace: m.Namespace },
    period,
    stat,
  });
  const metrics = alarm.Metrics?.length
    ? alarm.Metrics.map((q) => ({
        id: q.Id,
        ...(q.MetricStat ? { metricStat: metricStat(q.MetricStat.Metric ?? {}, q.MetricStat.Period, q.MetricStat.Stat) } : {}),
        ...(q.Expression ? { expression: q.Expression } : {}),
        ...(q.Label ? { label: q.Label } : {}),
        returnData: q.ReturnData ?? true,
      }))
    : [{ id: uuid(`alarm-metric/${alarm.AlarmArn}`), metricStat: metricStat(alarm, alarm.Period, alarm.Statistic ?? alarm.ExtendedStatistic), returnData: true }];
  return { ...(alarm.AlarmDescription ? { description: alarm.AlarmDescription } : {}), metrics };
}

const stateOf = (alarm: MetricAlarm) => ({
  reason: alarm.StateReason,
  ...(alarm.StateReasonData ? { reasonData: alarm.StateReasonData } : {}),
  timestamp: cloudWatchTime(+alarm.StateUpdatedTimestamp!),
  value: alarm.StateValue,
});

/**
 * Moves an alarm to `value` (what SetAlarmState does, and what metric evaluation would) and emits
 * its state change; staying in the same state changes nothing and emits nothing.
 */
export function transitionAlarm(state: EmulatorState, r: RegionState, alarm: MetricAlarm, change: { value: AlarmStateValue; reason: string; reasonData?: string }, now: number): void {
  if (alarm.StateValue === change.value) return;
  const previousState = stateOf(alarm);
  Object.assign(alarm, {
    StateValue: change.value,
    StateReason: change.reason,
    StateReasonData: change.reasonData,
    StateUpdatedTimestamp: new Date(now),
    StateTransitionedTimestamp: new Date(now),
  });
  if (change.reasonData === undefined) delete alarm.StateReasonData;
  state.events.emit({
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: r.accountId,
    time: eventTime(now),
    region: r.region,
    resources: [alarm.AlarmArn!],
    detail: { alarmName: alarm.AlarmName, configuration: eventConfiguration(alarm), previousState, state: stateOf(alarm) },
  });
}

function findAlarm(ctx: CallContext, name: string): MetricAlarm {
  const alarm = alarmsState(ctx.regional).get(name);
  if (!alarm) throw new AwsError('ResourceNotFound', `Alarm ${name} not found`, 404);
  return alarm;
}

function describeAlarms(p: Params, ctx: CallContext) {
  const names = asList<string>(p.AlarmNames);
  if (names.length > 100) throw invalidValue('The collection AlarmNames must not have a size greater than 100.');
  if (names.length && p.AlarmNamePrefix) throw combination('AlarmNames and AlarmNamePrefix cannot be specified together.');
  if (p.StateValue !== undefined && !STATE_VALUES.includes(p.StateValue)) throw invalidValue(`The parameter StateValue must be one of ${STATE_VALUES.join(', ')}.`);
  const maxRecords = num(p.MaxRecords) ?? 50;
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > 100) throw invalidValue('The parameter MaxRecords must be between 1 and 100.');
  const types = asList<string>(p.AlarmTypes);
  // Without AlarmTypes only metric alarms are returned; this emulator has no composite alarms.
  const wantMetric = !types.length || types.includes('MetricAlarm');
  const matching = [...alarmsState(ctx.regional).values()]
    .filter(
      (a) =>
        wantMetric &&
        (!names.length || names.includes(a.AlarmName!)) &&
        (!p.AlarmNamePrefix || a.AlarmName!.startsWith(p.AlarmNamePrefix)) &&
        (!p.StateValue || a.StateValue === p.StateValue) &&
        (!p.ActionPrefix || [...(a.AlarmActions ?? []), ...(a.OKActions ?? []), ...(a.InsufficientDataActions ?? [])].some((x) => x.startsWith(p.ActionPrefix))),
    )
    .sort((a, b) => a.AlarmName!.localeCompare(b.AlarmName!));
  let offset = 0;
  if (p.NextToken) {
    offset = Number(Buffer.from(String(p.NextToken), 'base64').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0 || offset > matching.length) throw new AwsError('InvalidNextToken', 'The service returned an invalid next token.');
  }
  const next = offset + maxRecords < matching.length ? Buffer.from(String(offset + maxRecords)).toString('base64') : undefined;
  return {
    MetricAlarms: matching.slice(offset, offset + maxRecords),
    ...(types.includes('CompositeAlarm') ? { CompositeAlarms: [] } : {}),
    ...(next ? { NextToken: next } : {}),
  };
}

function setAlarmState(p: Params, ctx: CallContext) {
  if (!p.AlarmName) throw notNull('alarmName');
  if (!p.StateValue) throw notNull('stateValue');
  if (p.StateReason === undefined) throw notNull('stateReason');
  if (!STATE_VALUES.includes(p.StateValue)) {
    throw AwsError.common(
      'Validation',
      `1 validation error detected: Value '${p.StateValue}' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]`,
    );
  }
  const reason = String(p.StateReason);
  if (reason.length > 1023) throw AwsError.common('Validation', "1 validation error detected: Value at 'stateReason' failed to satisfy constraint: Member must have length less than or equal to 1023");
  const alarm = findAlarm(ctx, String(p.AlarmName));
  let reasonData: string | undefined;
  if (p.StateReasonData !== undefined) {
    reasonData = String(p.StateReasonData);
    try {
      JSON.parse(reasonData);
    } catch {
      throw new AwsError('InvalidFormatFault', 'Invalid JSON in StateReasonData.');
    }
  }
  transitionAlarm(ctx.state, ctx.regional, alarm, { value: p.StateValue, reason, ...(reasonData !== undefined ? { reasonData } : {}) }, ctx.clock.now());
  return undefined;
}

const ownArn = (p: Params, ctx: CallContext) => [alarmArn(ctx, String(p.AlarmName ?? ''))];
const actions: Record<string, ActionDefinition> = {
  PutMetricAlarm: {
    resources: ownArn,
    handler: (p, ctx) => void putMetricAlarm(ctx.regional, p, ctx.clock.now()),
  },
  DescribeAlarms: {
    // The alarms named, or all of the region's.
    resources: (p, ctx) => {
      const names = asList<string>(p.AlarmNames);
      return names.length ? names.map((n) => alarmArn(ctx, n)) : [alarmArn(ctx, '*')];
    },
    handler: describeAlarms,
  },
  SetAlarmState: { resources: ownArn, handler: setAlarmState },
};

const common = { name: 'cloudwatch', actions, awsQueryErrors: QUERY_CODES, errors: { Validation: ['ValidationError', 400] as [string, number] } };
export const cloudWatchJsonService: ServiceDefinition = { ...common, protocol: 'json', target: 'GraniteServiceVersion20100801' };
export const cloudWatchQueryService: ServiceDefinition = {
  ...common,
  protocol: 'query',
  version: '2010-08-01',
  xmlNamespace: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
};
