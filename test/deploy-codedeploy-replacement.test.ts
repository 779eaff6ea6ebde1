import { DescribeTasksCommand, ECSClient, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { watchReplacement } from '../src/deploy/codedeploy-replacement';
import { stopReasonsLine } from '../src/deploy/rollout-text';

/**
 * CodeDeploy's replacement task set crashing in a loop (src/deploy/codedeploy-replacement.ts): its
 * stopped tasks, read as the rolling watch reads a deployment's, counted against ECS's
 * circuit-breaker threshold; the blue set's tasks and tasks already counted are not counted.
 */
const GREEN = 'ecs-svc/1111111111111111111';
const BLUE = 'ecs-svc/2222222222222222222';
const NEW_TD = 'arn:aws:ecs:us-east-1:111111111111:task-definition/legacy:13';
const OLD_TD = 'arn:aws:ecs:us-east-1:111111111111:task-definition/legacy:12';
const arn = (n: number) => `arn:aws:ecs:us-east-1:111111111111:task/blue-green/${String(n).padStart(32, '0')}`;
const crashed = (n: number, over: Partial<Task> = {}): Task => ({
  taskArn: arn(n),
  taskDefinitionArn: NEW_TD,
  startedBy: GREEN,
  stopCode: 'EssentialContainerExited',
  stoppedReason: 'Essential container in task exited',
  stoppedAt: new Date(Date.UTC(2030, 0, 1, 12, 0, n)),
  containers: [{ name: 'app', exitCode: 1, reason: 'boom <!here> & *more*' }],
  ...over,
});

const mock = mockClient(ECSClient);
afterEach(() => mock.reset());

/** ECS answering ListTasks (STOPPED) with `tasks` and DescribeTasks with those asked for. */
function stoppedAre(tasks: Task[]) {
  mock.on(ListTasksCommand).resolves({ taskArns: tasks.map((t) => t.taskArn!) });
  mock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({ tasks: tasks.filter((t) => input.tasks.includes(t.taskArn!)) }));
}

const ecs = new ECSClient({ region: 'us-east-1' });
const where = { cluster: 'blue-green', service: 'legacy' };
const green = (desiredCount = 2) => ({ id: GREEN, taskDefinition: NEW_TD, desiredCount });

describe('watchReplacement', () => {
  it('is failing once as many of the replacement’s tasks stopped as ECS’s circuit breaker counts, each task once, the blue set’s never', async () => {
    const blue = crashed(9, { startedBy: BLUE, taskDefinitionArn: OLD_TD });
    stoppedAre([crashed(1), crashed(2), blue]);
    const first = await watchReplacement(ecs, where, green(), undefined);
    expect(first.failing).toBeUndefined();
    expect(first.progress.failedTasks).toBe(2);
    expect(first.lines).toHaveLength(2);
    expect(mock.commandCalls(ListTasksCommand)[0]!.args[0].input).toEqual({
      cluster: 'blue-green',
      serviceName: 'legacy',
      desiredStatus: 'STOPPED',
      maxResults: 100,
    });

    // Seen again, nothing new: still 2 (and nothing described again).
    mock.resetHistory();
    const again = await watchReplacement(ecs, where, green(), first.progress);
    expect(again.progress.failedTasks).toBe(2);
    expect(again.failing).toBeUndefined();
    expect(mock.commandCalls(DescribeTasksCommand)).toHaveLength(0);

    stoppedAre([crashed(1), crashed(2), blue, crashed(3)]);
    const third = await watchReplacement(ecs, where, green(), again.progress);
    expect(third.failing).toBe('3 tasks of the replacement task set failed to start or stay running');
    expect(third.lines).toEqual([
      '🛑 task `000000000000` stopped: Essential container in task exited (container `app` exited with code 1: boom &lt;!here&gt; &amp; *more*)',
    ]);
    // The reason as AWS wrote it is kept plain, and escaped where it is said.
    expect(third.progress.stopReasons).toEqual(['Essential container in task exited (container `app` exited with code 1: boom <!here> & *more*)']);
    expect(stopReasonsLine(third.progress.stopReasons)).toBe(
      '\nStop reasons: “Essential container in task exited (container `app` exited with code 1: boom &lt;!here&gt; &amp; *more*)”',
    );
  });

  it('counts against the replacement’s desired count: 10 tasks fail at 5', async () => {
    stoppedAre([1, 2, 3, 4].map((n) => crashed(n)));
    const four = await watchReplacement(ecs, where, green(10), undefined);
    expect(four.failing).toBeUndefined();
    stoppedAre([1, 2, 3, 4, 5].map((n) => crashed(n)));
    expect((await watchReplacement(ecs, where, green(10), four.progress)).failing).toBe('5 tasks of the replacement task set failed to start or stay running');
  });

  it('a task of another deployment’s replacement (the same revision, another set) is not counted, and a new set starts from zero', async () => {
    const OTHER = 'ecs-svc/3333333333333333333';
    stoppedAre([crashed(1, { startedBy: OTHER }), crashed(2, { startedBy: OTHER }), crashed(3, { startedBy: OTHER })]);
    const mine = await watchReplacement(ecs, where, green(), undefined);
    expect(mine.progress.failedTasks).toBe(0);
    const theirs = await watchReplacement(ecs, where, { ...green(), id: OTHER }, mine.progress);
    expect(theirs.progress).toMatchObject({ deploymentId: OTHER, failedTasks: 3 });
    expect(theirs.failing).toBe('3 tasks of the replacement task set failed to start or stay running');
  });
});
