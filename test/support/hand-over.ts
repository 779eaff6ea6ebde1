import type { WebClient } from '@slack/web-api';
import type { AuditLog } from '../../src/audit/audit';
import type { StateStore } from '../../src/platform/state';
import type { RunWorkflowInput } from '../../src/workflows/inputs';

/**
 * What the worker does before it hands a run (a script, or a job with `kind: 'job'`) to the run
 * workflow, for tests that drive the workflow directly: the parent message, the lock, the run
 * record, the audit record. Alice asks in #ops; polls 5 minutes apart unless overridden.
 */
export async function handOverRun(
  deps: { slack: WebClient; state: StateStore; audit: AuditLog; teamId: string },
  run: { runId: string; name: string; args: string[]; target: string; kind?: 'job'; timeoutSeconds: number },
): Promise<RunWorkflowInput> {
  const { runId, name, args, target } = run;
  const command = `/ecs ${run.kind === 'job' ? 'job' : 'run'} ${[name, ...args].join(' ')}`;
  const parentText = `<@U0ALICE> ran \`${command}\``;
  const parent = await deps.slack.chat.postMessage({ channel: 'C0OPS', text: parentText });
  const at = new Date().toISOString();
  const lockKey = `lock#run#${run.kind === 'job' ? 'job:' : ''}${name}#${target}#${runId}`;
  await deps.state.claim(lockKey, 3600, { runId });
  await deps.state.claim(`run#${runId}`, 3600, {
    runId,
    script: name,
    ...(run.kind ? { kind: run.kind } : {}),
    target,
    userId: 'U0ALICE',
    channelId: 'C0OPS',
    startedAt: at,
  });
  const audit = await deps.audit.record({
    id: runId,
    teamId: deps.teamId,
    userId: 'U0ALICE',
    channelId: 'C0OPS',
    commandText: command,
    decision: 'allowed',
    outcome: 'accepted',
    at,
  });
  return {
    runId,
    script: name,
    args,
    target,
    teamId: deps.teamId,
    userId: 'U0ALICE',
    channelId: 'C0OPS',
    parentTs: parent.ts!,
    parentText,
    audit,
    lockKey,
    startedAt: Date.now(),
    timeoutSeconds: run.timeoutSeconds,
    pollSeconds: 300,
  };
}
