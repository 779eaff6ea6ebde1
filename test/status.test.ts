import { DescribeServicesCommand, ECSClient, type Service } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsSession } from '../src/aws/session';
import { readServiceSnapshot, renderStatus, serviceOutcome as assessService } from '../src/commands/status';
import { UserFacingError } from '../src/platform/errors';

const target = { alias: 'web', region: 'us-east-1', cluster: 'main', service: 'web' };
const ecsMock = mockClient(ECSClient);
const session = { ecs: () => new ECSClient({ region: 'us-east-1' }) } as unknown as AwsSession;
afterEach(() => ecsMock.reset());

const service = (over: Partial<Service>): Service => ({
  serviceName: 'web',
  desiredCount: 2,
  runningCount: 2,
  pendingCount: 0,
  deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }],
  ...over,
});

describe('status', () => {
  it('says plainly when the service does not exist', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: 'arn:aws:ecs:us-east-1:1:service/web', reason: 'MISSING' }] });
    const error = await readServiceSnapshot({ aws: session, target }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as UserFacingError).userMessage).toBe(
      'Service `web` in cluster `main` (us-east-1) was not found (MISSING). Check `targets.web` in the configuration.',
    );
  });
  it('says when the service was deleted', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'INACTIVE' })] });
    await expect(readServiceSnapshot({ aws: session, target })).rejects.toThrow(/has been deleted \(INACTIVE\)/);
  });
  it('turns a missing cluster into a plain message', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(Object.assign(new Error('Cluster not found.'), { name: 'ClusterNotFoundException' }));
    await expect(readServiceSnapshot({ aws: session, target })).rejects.toThrow(
      /ECS cluster was not found while reading service `web`.*Check the target's `cluster` and `region`/,
    );
  });
  it('assesses health: steady, rolling out, failed', () => {
    expect(assessService(service({}))).toBe('success');
    expect(assessService(service({ runningCount: 1 }))).toBe('warning');
    expect(assessService(service({ deployments: [{ status: 'PRIMARY', rolloutState: 'IN_PROGRESS' }, { status: 'ACTIVE' }] }))).toBe('warning');
    expect(assessService(service({ deployments: [{ status: 'PRIMARY', rolloutState: 'FAILED' }] }))).toBe('failure');
    expect(assessService(service({ runningCount: 0 }))).toBe('failure');
    expect(assessService(service({ desiredCount: 0, runningCount: 0 }))).toBe('success');
    // An old task still runs, but the latest deployment cannot start a single one: failing.
    expect(
      assessService(
        service({
          runningCount: 1,
          deployments: [
            { status: 'PRIMARY', rolloutState: 'IN_PROGRESS', desiredCount: 2, runningCount: 0, failedTasks: 4 },
            { status: 'ACTIVE', runningCount: 1 },
          ],
        }),
      ),
    ).toBe('failure');
  });
  it('keeps every section within the 3,000-character block limit even with long reasons', () => {
    const long = 'x'.repeat(5000);
    const { sections } = renderStatus('web', {
      service: service({ events: Array.from({ length: 20 }, () => ({ message: long, createdAt: new Date() })) }),
      taskDefinition: undefined,
      stoppedTasks: Array.from({ length: 5 }, () => ({
        taskArn: 'arn:aws:ecs:r:1:task/main/abc',
        stoppedReason: long,
        containers: [{ name: 'app', exitCode: 1, reason: long }],
      })),
    });
    for (const s of sections) expect(s.length).toBeLessThan(3000);
  });
});

describe('the service’s console link', () => {
  it('links the service’s page in its own region from its ARN; no ARN, no link', () => {
    const arn = 'arn:aws:ecs:eu-west-1:222222222222:service/main/web';
    const linked = renderStatus('web', { service: service({ serviceArn: arn }), taskDefinition: undefined, stoppedTasks: [] }).sections[0]!.split('\n')[0];
    expect(linked).toMatch(
      / · <https:\/\/eu-west-1\.console\.aws\.amazon\.com\/ecs\/v2\/clusters\/main\/services\/web\/health\?region=eu-west-1\|open in the AWS console>$/,
    );
    const plain = renderStatus('web', { service: service({}), taskDefinition: undefined, stoppedTasks: [] }).sections[0]!.split('\n')[0];
    expect(plain).not.toContain('console');
  });
});

describe('the autoscaling range beside the task counts', () => {
  it('shows the range, its absence, or why it could not be read (the error name, escaped)', () => {
    const tasks = (autoscaling: Parameters<typeof renderStatus>[3]) =>
      renderStatus('web', { service: service({}), taskDefinition: undefined, stoppedTasks: [] }, undefined, autoscaling)
        .sections[0]!.split('\n')
        .find((l) => l.startsWith('*Tasks:*'));
    expect(tasks({ range: { min: 2, max: 6 } })).toMatch(/ · autoscaling 2\.\.6$/);
    expect(tasks({ none: true })).toMatch(/ · no autoscaling$/);
    expect(tasks({ unreadable: 'AccessDenied<Exception>' })).toMatch(/ · autoscaling range not readable \(AccessDenied&lt;Exception&gt;\)$/);
    expect(tasks(undefined)).not.toContain('autoscaling');
  });

  it('says which scaling activities are suspended when the scalable target says so', () => {
    const tasks = (autoscaling: Parameters<typeof renderStatus>[3]) =>
      renderStatus('web', { service: service({}), taskDefinition: undefined, stoppedTasks: [] }, undefined, autoscaling)
        .sections[0]!.split('\n')
        .find((l) => l.startsWith('*Tasks:*'));
    const all = { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true };
    expect(tasks({ range: { min: 2, max: 6 }, suspended: all })).toMatch(/ · autoscaling 2\.\.6 \(⏸️ suspended: scale-in, scale-out, scheduled\)$/);
    expect(tasks({ range: { min: 2, max: 6 }, suspended: { ScheduledScalingSuspended: true, DynamicScalingInSuspended: false } })).toMatch(
      / · autoscaling 2\.\.6 \(⏸️ suspended: scheduled\)$/,
    );
    expect(tasks({ range: { min: 2, max: 6 }, suspended: { DynamicScalingInSuspended: false } })).toMatch(/ · autoscaling 2\.\.6$/);
  });
});

describe('fitSection', () => {
  it('keeps whole lines and names how many were left out', async () => {
    const { fitSection } = await import('../src/commands/status');
    expect(fitSection(['a', 'b'], 100)).toBe('a\nb');
    const out = fitSection(
      Array.from({ length: 10 }, (_, i) => `${i}`.repeat(30)),
      100,
    );
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out).toMatch(/^0{30}\n1{30}\n… 8 more/);
  });
});
