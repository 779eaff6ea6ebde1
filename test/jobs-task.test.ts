import type { Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { endText } from '../src/jobs/view';
import { parseConfig, type Job } from '../src/config/schema';
import { jobCommand, judgeTask, placementFailure, runTaskInput, validateJobArgs } from '../src/jobs/task';
import { UsageError } from '../src/platform/errors';

const config = parseConfig({
  slack: { teams: ['T1'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } },
  jobs: {
    migrate: {
      target: 'web',
      container: 'app',
      command: ['bin/migrate', '--to', '{version}', '{dry}', '--label={dry}'],
      args: [
        { name: 'version', pattern: '[0-9]{4}', optional: true },
        { name: 'dry', pattern: 'yes|no', optional: true },
      ],
      environment: { LOCK: '30' },
      cpu: 1024,
      memory: 2048,
    },
  },
});
const job: Job = config.jobs.migrate!;

const definition: TaskDefinition = {
  containerDefinitions: [
    { name: 'app', essential: true },
    { name: 'log-router', essential: true },
    { name: 'sidecar', essential: false },
  ],
};
const stopped = (containers: Task['containers'], extra: Partial<Task> = {}): Task => ({
  lastStatus: 'STOPPED',
  stopCode: 'EssentialContainerExited',
  stoppedReason: 'Essential container in task exited',
  containers,
  ...extra,
});

describe('a job’s command', () => {
  it('fills `{arg}` items with the values as single argv items, drops an absent optional one, keeps other text literal', () => {
    expect(jobCommand(job, ['0042', 'yes'])).toEqual(['bin/migrate', '--to', '0042', 'yes', '--label={dry}']);
    expect(jobCommand(job, [])).toEqual(['bin/migrate', '--to', '--label={dry}']);
    expect(jobCommand(job, ['0042; rm -rf /'])).toContain('0042; rm -rf /'); // never a shell: one literal item
  });

  it('checks arguments as script arguments are, with the job’s usage', () => {
    expect(() => validateJobArgs('migrate', job, ['42'])).toThrow(UsageError);
    expect(() => validateJobArgs('migrate', job, ['42'])).toThrow(/`version` `42` does not match[\s\S]*Usage: `\/ecs job migrate \[version\] \[dry\]`/);
    expect(validateJobArgs('migrate', job, ['0042', 'yes'])).toEqual(['0042', 'yes']);
  });
});

describe('the RunTask request', () => {
  const base = { name: 'migrate', job, args: ['0042'], runId: 'k3x9q2', cluster: 'main', userId: 'U1', userName: 'ann <b>' };
  it('takes the service’s task definition, network and launch type; startedBy is the run id, the token derives from it, tags name the user', () => {
    const service: Service = {
      taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/web:42',
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } },
    };
    const input = runTaskInput(base, service);
    expect(input).toMatchObject({
      cluster: 'main',
      taskDefinition: service.taskDefinition,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      networkConfiguration: service.networkConfiguration,
      startedBy: 'k3x9q2',
      clientToken: 'ecs-chatops-job-k3x9q2',
      overrides: { cpu: '1024', memory: '2048', containerOverrides: [{ name: 'app', environment: [{ name: 'LOCK', value: '30' }] }] },
    });
    expect(input.tags).toContainEqual({ key: 'ecs-chatops:slack-user-id', value: 'U1' });
    expect(input.tags).toContainEqual({ key: 'ecs-chatops:slack-user', value: 'ann _b_' });
    // The same run, asked again (a retried step): the same request, the same token.
    expect(runTaskInput(base, service)).toEqual(input);
  });

  it('a capacity provider strategy instead of a launch type, and the job’s own task definition', () => {
    const input = runTaskInput(
      { ...base, job: { ...job, taskDefinition: 'reindex:3' } },
      { taskDefinition: 'web:42', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] },
    );
    expect(input.taskDefinition).toBe('reindex:3');
    expect(input.capacityProviderStrategy).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
    expect(input).not.toHaveProperty('launchType');
  });
});

describe('a stopped job’s verdict: only exit code 0 of every essential container is a success', () => {
  it('success: the essential containers exited 0 (a non-essential one may not)', () => {
    const verdict = judgeTask(
      stopped([
        { name: 'log-router', exitCode: 0 },
        { name: 'app', exitCode: 0 },
        { name: 'sidecar', exitCode: 137 },
      ]),
      definition,
      'app',
      false,
    );
    expect(verdict.outcome).toBe('success');
    expect(verdict.exitCodes[0]).toMatchObject({ name: 'app', exitCode: 0 }); // the job's own container first
  });

  it('TaskFailedToStart is a failure with its reason', () => {
    const reason = 'CannotStartContainerError: exec: "bin/x": executable file not found in $PATH';
    const verdict = judgeTask(
      stopped([{ name: 'app' }, { name: 'log-router' }], { stopCode: 'TaskFailedToStart', stoppedReason: reason }),
      definition,
      'app',
      false,
    );
    expect(verdict).toMatchObject({ outcome: 'failure', why: `the task never started: ${reason}` });
  });

  it('an image pull failure is a failure, whatever the stop code says', () => {
    const pull = 'CannotPullContainerError: pull image manifest has been retried 7 time(s): not found';
    const verdict = judgeTask(
      stopped([
        { name: 'app', reason: pull },
        { name: 'log-router', exitCode: 0 },
      ]),
      definition,
      'app',
      false,
    );
    expect(verdict).toMatchObject({ outcome: 'failure', why: `the task never started: ${pull}` });
  });

  it('a missing exit code is a failure, never exit 0', () => {
    const verdict = judgeTask(stopped([{ name: 'app' }, { name: 'log-router', exitCode: 0 }]), definition, 'app', false);
    expect(verdict).toMatchObject({ outcome: 'failure', why: 'no exit code was reported for app, so it cannot count as a success' });
  });

  it('a non-zero exit code is a failure naming the container and its code', () => {
    const verdict = judgeTask(
      stopped([
        { name: 'app', exitCode: 2 },
        { name: 'log-router', exitCode: 0 },
      ]),
      definition,
      'app',
      false,
    );
    expect(verdict).toMatchObject({ outcome: 'failure', why: 'app exited with code 2' });
    const router = judgeTask(
      stopped([
        { name: 'app', exitCode: 0 },
        { name: 'log-router', exitCode: 1 },
      ]),
      definition,
      'app',
      false,
    );
    expect(router).toMatchObject({ outcome: 'failure', why: 'log-router exited with code 1' });
  });

  it('cancelled through the bot: UserInitiated is a cancel; stopped by someone else, a failure', () => {
    const task = stopped(
      [
        { name: 'app', exitCode: 143 },
        { name: 'log-router', exitCode: 0 },
      ],
      { stopCode: 'UserInitiated', stoppedReason: 'Cancelled in Slack by U1' },
    );
    expect(judgeTask(task, definition, 'app', true).outcome).toBe('cancelled');
    expect(judgeTask({ ...task, stoppedReason: 'stopped in the console' }, definition, 'app', false)).toMatchObject({
      outcome: 'failure',
      why: 'the task was stopped (stopped in the console)',
    });
  });

  it('a placement failure (RunTask failures[]) gives ECS’s reasons', () => {
    expect(placementFailure([{ reason: 'RESOURCE:MEMORY' }, { reason: 'RESOURCE:MEMORY' }, { reason: 'RESOURCE:CPU' }])).toBe('RESOURCE:MEMORY; RESOURCE:CPU');
    expect(placementFailure([])).toBe('RunTask started no task and gave no reason');
  });

  it('the end reply escapes what AWS says and lists each essential container’s exit code', () => {
    const verdict = judgeTask(
      stopped(
        [
          { name: 'app', exitCode: 1, reason: '<!channel> *boom*' },
          { name: 'log-router', exitCode: 0 },
        ],
        { stoppedReason: 'Essential <container> exited' },
      ),
      definition,
      'app',
      false,
    );
    const { text } = endText('migrate', 'k3x9q2', verdict, '3 s');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('• `app`: exit code 1');
    expect(text).toContain('• `log-router`: exit code 0');
    expect(text).toContain('• Stop code `EssentialContainerExited`: Essential &lt;container&gt; exited');
  });

  it('stopped at its time limit: a failure saying which limit', () => {
    const task = stopped(
      [
        { name: 'app', exitCode: 143 },
        { name: 'log-router', exitCode: 0 },
      ],
      { stopCode: 'UserInitiated', stoppedReason: 'time limit' },
    );
    const verdict = judgeTask(task, definition, 'app', false);
    expect(verdict.outcome).toBe('failure');
    expect(endText('migrate', 'k3x9q2', verdict, '10 min', { why: 'timeout', limit: '10 min', lambda: false }).text).toMatch(
      /^⏱️ `migrate` \(run `k3x9q2`\) was stopped after 10 min: a failure\. It reached its time limit \(10 min\)\./,
    );
    expect(endText('migrate', 'k3x9q2', verdict, '14 min', { why: 'timeout', limit: '14 min', lambda: true }).text).toContain(
      'It reached the longest this worker could follow it (14 min)',
    );
  });
});
