/**
 * The event-pattern matcher against the EventBridge user guide's own examples (EB-UG
 * eb-event-patterns.md, eb-create-pattern-operators.md, eb-event-patterns-content-based-filtering.md,
 * eb-event-patterns-arrays.md, eb-event-patterns-null-values.md): each pattern with an event the
 * guide says it matches and one it does not.
 */
import { describe, expect, it } from 'vitest';
import { InvalidEventPatternError, matchesEventPattern, parseEventPattern } from '../local/aws/event-pattern';

const matches = (pattern: Record<string, unknown>, event: Record<string, unknown>) => matchesEventPattern(parseEventPattern(pattern), event);

// EB-UG eb-event-patterns.md: the EC2 instance-termination event.
const ec2Terminated = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};
const withDetail = (detail: Record<string, unknown>) => ({ ...ec2Terminated, detail });

describe('exact values, nesting and arrays', () => {
  it("matches the guide's instance-termination pattern on source, detail-type and detail.state, and nothing else", () => {
    const pattern = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } };
    expect(matches(pattern, ec2Terminated)).toBe(true);
    expect(matches(pattern, withDetail({ state: 'running' }))).toBe(false);
    expect(matches(pattern, { ...ec2Terminated, source: 'aws.ecs' })).toBe(false);
    // The field must be there with the same nesting: state at the top level is not detail.state.
    expect(matches(pattern, { ...ec2Terminated, state: 'terminated', detail: {} })).toBe(false);
  });

  it('ORs the values listed for a field ("aws.ec2" or "aws.fargate")', () => {
    const pattern = { source: ['aws.ec2', 'aws.fargate'] };
    expect(matches(pattern, { ...ec2Terminated, source: 'aws.fargate' })).toBe(true);
    expect(matches(pattern, { ...ec2Terminated, source: 'aws.ecs' })).toBe(false);
  });

  it('compares strings exactly, without case folding', () => {
    expect(matches({ detail: { state: ['Terminated'] } }, ec2Terminated)).toBe(false);
  });

  it('matches numbers and nested objects (the Macie alert: risk-score 80 and trigger.risk 8)', () => {
    const pattern = { source: ['aws.macie'], 'detail-type': ['Macie Alert'], detail: { 'risk-score': [80], trigger: { risk: [8] } } };
    const alert = {
      ...ec2Terminated,
      source: 'aws.macie',
      'detail-type': 'Macie Alert',
      detail: { 'risk-score': 80, trigger: { 'alert-type': 'basic', risk: 8 } },
    };
    expect(matches(pattern, alert)).toBe(true);
    expect(matches(pattern, { ...alert, detail: { 'risk-score': 80, trigger: { risk: 7 } } })).toBe(false);
    expect(matches(pattern, { ...alert, detail: { 'risk-score': '80', trigger: { risk: 8 } } })).toBe(false);
  });

  it('matches null and the empty string only by themselves (the Auto Scaling example)', () => {
    const launch = { ...ec2Terminated, source: 'aws.autoscaling', detail: { eventVersion: '', responseElements: null } };
    expect(matches({ detail: { responseElements: [null] } }, launch)).toBe(true);
    expect(matches({ detail: { eventVersion: [''] } }, launch)).toBe(true);
    expect(matches({ detail: { eventVersion: [null] } }, launch)).toBe(false);
    expect(matches({ detail: { responseElements: [''] } }, launch)).toBe(false);
  });

  it("matches an array field when the pattern's values and the event's intersect (resources)", () => {
    const event = {
      ...ec2Terminated,
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f'],
    };
    expect(
      matches({ resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f'] }, event),
    ).toBe(true);
    expect(matches({ resources: ['arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f'] }, event)).toBe(false);
  });

  it("uses the last of a key given twice (the guide's location example)", () => {
    const pattern = parseEventPattern('{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}');
    expect(matchesEventPattern(pattern, withDetail({ location: 'eu-west' }))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ location: 'us-east' }))).toBe(false);
  });
});

describe('content filtering', () => {
  it('prefix: time starting with 2017-10-02; with equals-ignore-case, any casing of EventB', () => {
    expect(matches({ time: [{ prefix: '2017-10-02' }] }, { ...ec2Terminated, time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matches({ time: [{ prefix: '2017-10-02' }] }, ec2Terminated)).toBe(false);
    const ignoreCase = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
    for (const service of ['EventBridge', 'EVENTBRIDGE', 'eventbus']) expect(matches(ignoreCase, withDetail({ service })), service).toBe(true);
    expect(matches(ignoreCase, withDetail({ service: 'Lambda' }))).toBe(false);
  });

  it('suffix: FileName ending in .png; with equals-ignore-case, .PNG too', () => {
    expect(matches({ FileName: [{ suffix: '.png' }] }, { ...ec2Terminated, FileName: 'image.png' })).toBe(true);
    expect(matches({ FileName: [{ suffix: '.png' }] }, { ...ec2Terminated, FileName: 'image.PNG' })).toBe(false);
    expect(matches({ detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, withDetail({ FileName: 'image.PNG' }))).toBe(true);
  });

  it('anything-but: a string, a number, a list of either, a prefix, a suffix, ignoring case, a wildcard', () => {
    expect(matches({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({ state: 'running' }))).toBe(true);
    expect(matches({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({ state: 'initializing' }))).toBe(false);
    expect(matches({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, withDetail({ 'x-limit': 124 }))).toBe(true);
    expect(matches({ detail: { 'x-limit': [{ 'anything-but': 123 }] } }, withDetail({ 'x-limit': 123 }))).toBe(false);
    expect(matches({ detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, withDetail({ state: 'overloaded' }))).toBe(false);
    expect(matches({ detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, withDetail({ 'x-limit': 250 }))).toBe(true);
    expect(matches({ detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, withDetail({ state: 'initializing' }))).toBe(false);
    expect(matches({ detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, withDetail({ state: 'running' }))).toBe(true);
    expect(matches({ detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } }, withDetail({ FileName: 'a.png' }))).toBe(false);
    expect(matches({ detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] } }, withDetail({ state: 'INITIALIZING' }))).toBe(false);
    expect(matches({ detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, withDetail({ FilePath: '/usr/lib/x' }))).toBe(false);
    expect(matches({ detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, withDetail({ FilePath: '/usr/bin/x' }))).toBe(true);
    // It needs a value to compare: an event without the field does not match.
    expect(matches({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({}))).toBe(false);
  });

  it('numeric: every bound must hold (c-count in (0, 5], d-count < 10, x-limit = 3.018e2), on numbers only', () => {
    const pattern = {
      detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }], 'd-count': [{ numeric: ['<', 10] }], 'x-limit': [{ numeric: ['=', 3.018e2] }] },
    };
    expect(matches(pattern, withDetail({ 'c-count': 5, 'd-count': 9, 'x-limit': 301.8 }))).toBe(true);
    expect(matches(pattern, withDetail({ 'c-count': 0, 'd-count': 9, 'x-limit': 301.8 }))).toBe(false);
    expect(matches(pattern, withDetail({ 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 }))).toBe(false);
    expect(matches(pattern, withDetail({ 'c-count': '5', 'd-count': 9, 'x-limit': 301.8 }))).toBe(false);
  });

  it('exists: detail.state present or absent, on leaves only (an object is not a leaf)', () => {
    expect(matches({ detail: { state: [{ exists: true }] } }, ec2Terminated)).toBe(true);
    expect(matches({ detail: { state: [{ exists: true }] } }, withDetail({ 'c-count': { c1: 100 } }))).toBe(false);
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, ec2Terminated)).toBe(true);
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, withDetail({ 'c-count': { c1: 100 } }))).toBe(true);
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, withDetail({ 'c-count': 1 }))).toBe(false);
  });

  it('equals-ignore-case and wildcard', () => {
    expect(matches({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] }, ec2Terminated)).toBe(true);
    expect(matches({ 'detail-type': [{ 'equals-ignore-case': 'ec2 instance' }] }, ec2Terminated)).toBe(false);
    expect(
      matches({ EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/b' }),
    ).toBe(true);
    expect(
      matches({ EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/b' }),
    ).toBe(false);
    expect(matches({ name: [{ wildcard: 'a\\*b' }] }, { name: 'a*b' })).toBe(true);
    expect(matches({ name: [{ wildcard: 'a\\*b' }] }, { name: 'axxb' })).toBe(false);
  });

  it('cidr: IPv4 addresses in 10.0.0.0/24', () => {
    expect(matches({ detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, withDetail({ sourceIPAddress: '10.0.0.255' }))).toBe(true);
    expect(matches({ detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, withDetail({ sourceIPAddress: '10.0.1.0' }))).toBe(false);
  });

  it("the guide's complex example: prefix, anything-but and numeric together", () => {
    const pattern = {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
      },
    };
    const event = { ...ec2Terminated, time: '2017-10-02T00:00:00Z', detail: { state: 'running', 'c-count': 3, 'd-count': 1, 'x-limit': 150 } };
    expect(matches(pattern, event)).toBe(true);
    expect(matches(pattern, { ...event, detail: { ...event.detail, 'x-limit': 200 } })).toBe(false);
  });
});

describe('$or', () => {
  it('at the top level, with the other keys ANDed (source aws.ec2, and metricType or namespace)', () => {
    const pattern = { source: ['aws.ec2'], $or: [{ metricType: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }] };
    expect(matches(pattern, { source: 'aws.ec2', metricType: 'ReadLatency' })).toBe(true);
    expect(matches(pattern, { source: 'aws.ec2', namespace: 'AWS/ES' })).toBe(true);
    expect(matches(pattern, { source: 'aws.ec2', namespace: 'AWS/RDS' })).toBe(false);
    expect(matches(pattern, { source: 'aws.s3', metricType: 'ReadLatency' })).toBe(false);
  });

  it('nested in detail, each alternative with its own comparisons', () => {
    const pattern = {
      detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }] },
    };
    expect(matches(pattern, withDetail({ 'd-count': 3 }))).toBe(true);
    expect(matches(pattern, withDetail({ 'x-limit': 301.8 }))).toBe(true);
    expect(matches(pattern, withDetail({ 'c-count': 6, 'd-count': 10 }))).toBe(false);
  });
});

describe('invalid patterns, refused as PutRule refuses them', () => {
  it.each([
    ['not JSON', '{"source": '],
    ['an empty value list', { source: [] }],
    ['a bare string value', { source: 'aws.ec2' }],
    ['an unknown operator', { source: [{ 'starts-with': 'aws.' }] }],
    ['a numeric range upside down', { detail: { n: [{ numeric: ['<', 5, '>', 1] }] } }],
    ['anything-but with a list of prefixes', { detail: { s: [{ 'anything-but': { prefix: ['a', 'b'] } }] } }],
    ['$or with one alternative', { $or: [{ source: ['aws.ec2'] }] }],
  ])('%s', (_why, pattern) => {
    expect(() => parseEventPattern(pattern as never)).toThrow(InvalidEventPatternError);
  });
});
