import { ExecuteCommandCommand } from '@aws-sdk/client-ecs';
import { KMSClient } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { explainAwsError } from '../aws/errors';
import type { Script } from '../config/schema';
import { buildExecCommand, newNonce } from '../exec/command';
import { kmsDataKeyGenerator } from '../exec/crypto';
import { OutputCleaner } from '../exec/output';
import { ExecSession, type ExecSessionResult } from '../exec/session';
import { OutputSpool } from '../exec/spool';
import { UserFacingError } from '../platform/errors';
import { CANCEL_ACTION } from '../slack/actions';
import { escapeText } from '../slack/format';
import { cancelKey, runKey, type RunRecord } from './cancel';
import { explainExecError, pickExecTask } from './run-target';
import { validateScriptArgs } from './script-args';
import type { CommandResult, WorkerCommand, WorkerContext } from './worker-types';

const CANCEL_POLL_MS = 2000;
/** After Ctrl-C, how long the script gets to stop before its session is ended. */
const INTERRUPT_GRACE_MS = 5000;
/** Time kept back from the Lambda's deadline to report and upload. */
const REPORT_RESERVE_MS = 60_000;

export const lockKey = (script: string, target: string) => `lock#run#${script}#${target}`;
const newRunId = () => randomBytes(6).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '').padEnd(6, '0').slice(0, 6);

/**
 * `/ecs run <script> [args]`: one declared script, in the manager container, through ECS Exec,
 * its output live in the thread and its exit code at the end. One run per script and target at
 * a time (a DynamoDB lock) unless the script allows overlap.
 */
export const run: WorkerCommand = async (ctx) => {
  const [name, ...values] = ctx.request.words.positional as [string, ...string[]];
  const script = ctx.config.scripts[name]!;
  const args = validateScriptArgs(name, script, values);
  const label = `${name}${args.length ? ` ${args.join(' ')}` : ''}`;
  if (script.requiresApproval) {
    await ctx.out.post(
      `\`${escapeText(name)}\` needs another person's approval before it runs, and approvals by reaction arrive with \`/ecs deploy\`. Until then, run it from a terminal with your own AWS access (\`aws ecs execute-command …\`), or remove \`requiresApproval\` from its configuration if one person may run it.`,
    );
    return { outcome: 'failure', summary: `${name}: needs an approval, which this version cannot collect yet` };
  }

  const runId = newRunId();
  const started = ctx.now();
  const { invocation } = ctx.job;
  const lock = lockKey(name, script.target);
  const record: RunRecord = { runId, script: name, target: script.target, userId: invocation.userId, channelId: invocation.channelId, threadTs: ctx.out.parentTs, startedAt: new Date(started).toISOString() };
  if (!script.allowOverlap && !(await ctx.state.claim(lock, script.timeoutSeconds + 600, record))) {
    const holder = await ctx.state.get<RunRecord>(lock);
    const link = holder?.threadTs ? await permalink(ctx, holder.channelId, holder.threadTs) : undefined;
    await ctx.out.post(
      `\`${name}\` is already running on \`${script.target}\`${holder ? `: started by <@${holder.userId}> at ${holder.startedAt.slice(11, 19)} UTC (run \`${holder.runId}\`)${link ? `, <${link}|see its thread>` : ''}` : ''}. One run at a time; \`/ecs cancel ${holder?.runId ?? '<run-id>'}\` stops it.`,
    );
    return { outcome: 'failure', summary: `${name}: already running` };
  }
  await ctx.state.claim(runKey(runId), script.timeoutSeconds + 600, record);
  try {
    return await runInline(ctx, { name, script, args, label, runId, started });
  } finally {
    await ctx.state.release(runKey(runId)).catch(() => undefined);
    if (!script.allowOverlap) await ctx.state.release(lock).catch(() => undefined);
  }
};

async function permalink(ctx: WorkerContext, channel: string, ts: string): Promise<string | undefined> {
  try {
    return (await ctx.slack.chat.getPermalink({ channel, message_ts: ts })).permalink;
  } catch {
    return undefined;
  }
}

interface RunSpec {
  name: string;
  script: Script;
  args: string[];
  label: string;
  runId: string;
  started: number;
}

async function runInline(ctx: WorkerContext, spec: RunSpec): Promise<CommandResult> {
  const { out, aws } = ctx;
  const alias = spec.script.target;
  const target = ctx.config.targets[alias]!;
  const where = await pickExecTask(aws!, alias, target);
  const nonce = newNonce();
  const command = buildExecCommand({ path: spec.script.path, args: spec.args, nonce });
  const exec = await aws!
    .ecs()
    .send(new ExecuteCommandCommand({ cluster: where.cluster, task: where.task.taskArn!, container: where.container, command, interactive: true }))
    .catch((error: unknown) => {
      throw explainExecError(error, alias) ?? explainAwsError(error, 'starting an ECS Exec session');
    });
  if (!exec.session?.streamUrl || !exec.session.tokenValue) throw new UserFacingError('ECS started no session (no stream URL in its answer).');

  await out.post(`▶️ Running \`${escapeText(spec.label)}\` (run \`${spec.runId}\`) in \`${where.container}\` of task \`${where.taskId.slice(0, 12)}\`; it stops after ${formatDuration(spec.script.timeoutSeconds * 1000)}.`, [
    { type: 'section', text: { type: 'mrkdwn', text: `▶️ Running \`${escapeText(spec.label)}\` (run \`${spec.runId}\`) in \`${where.container}\` of task \`${where.taskId.slice(0, 12)}\`; it stops after ${formatDuration(spec.script.timeoutSeconds * 1000)}.` } },
    { type: 'actions', elements: [{ type: 'button', action_id: CANCEL_ACTION, style: 'danger', text: { type: 'plain_text', text: 'Cancel' }, value: spec.runId }] },
  ]);

  const cluster = await ctxClusterKms(ctx, where.cluster);
  const session = await ExecSession.open({
    streamUrl: exec.session.streamUrl,
    tokenValue: exec.session.tokenValue,
    ...(cluster.kmsKeyId
      ? {
          kms: {
            generateDataKey: kmsDataKeyGenerator(aws!.client(KMSClient)),
            sessionId: exec.session.sessionId!,
            target: `ecs:${where.cluster}_${where.taskId}_${where.task.containers?.find((c) => c.name === where.container)?.runtimeId ?? ''}`,
          },
        }
      : {}),
    logger: ctx.logger,
  });

  const cleaner = new OutputCleaner({ nonce });
  const spool = await OutputSpool.create();
  session.on('output', (chunk) => {
    const lines = cleaner.push(chunk);
    if (lines.length) {
      spool.write(lines);
      out.write(`${lines.join('\n')}\n`);
    }
  });

  let stopReason: 'cancelled' | 'timeout' | undefined;
  let cancelledBy: string | undefined;
  const stop = async (why: 'cancelled' | 'timeout') => {
    if (stopReason) return;
    stopReason = why;
    session.interrupt();
    setTimeout(() => void session.terminate(), INTERRUPT_GRACE_MS).unref();
  };
  const deadline = Math.min(spec.script.timeoutSeconds * 1000, Math.max(10_000, ctx.remainingMs() - REPORT_RESERVE_MS));
  const timer = setTimeout(() => void stop('timeout'), deadline);
  const poll = setInterval(() => {
    void ctx.state.get<{ by?: string }>(cancelKey(spec.runId)).then((c) => {
      if (c) {
        cancelledBy = c.by;
        void stop('cancelled');
      }
    });
  }, CANCEL_POLL_MS);

  let result: ExecSessionResult;
  try {
    result = await session.closed;
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
  }
  const rest = cleaner.end();
  if (rest.length) {
    spool.write(rest);
    out.write(`${rest.join('\n')}\n`);
  }
  const logFile = await spool.close();
  const took = formatDuration(ctx.now() - spec.started);
  const size = `${formatBytes(spool.bytes)} of output${spool.problem ? ` (${spool.problem})` : ''}`;
  const cleanup = () => spool.cleanup();
  const exit = cleaner.exitCode;
  await ctx.state.release(cancelKey(spec.runId)).catch(() => undefined);

  if (stopReason === 'cancelled') {
    await out.post(`🛑 Cancelled${cancelledBy ? ` by <@${cancelledBy}>` : ''}: the script got Ctrl-C and its session was ended after ${took}${exit !== undefined ? ` (exit code ${exit})` : ''}.`);
    return { outcome: 'cancelled', summary: `${spec.label}: cancelled after ${took}`, logFile, cleanup };
  }
  if (stopReason === 'timeout') {
    await out.post(`⏱️ Stopped after ${took}: the run reached its time limit (${formatDuration(deadline)}). The script got Ctrl-C, then its session was ended.`);
    return { outcome: 'failure', summary: `${spec.label}: stopped at the time limit after ${took}`, logFile, cleanup };
  }
  if (exit === undefined) {
    const why = result.reason === 'socket_closed' ? 'the connection to the container was lost before the script finished' : result.reason === 'error' ? `the session failed (${result.error?.message ?? 'unknown error'})` : 'the session ended without the script reporting its exit status';
    await out.post(`❓ Exit code unknown: ${why}. This is reported as a failure; check the container before running it again.`);
    return { outcome: 'failure', summary: `${spec.label}: exit code unknown after ${took}`, logFile, cleanup };
  }
  await out.post(`${exit === 0 ? '✅' : '❌'} \`${escapeText(spec.label)}\` exited with code ${exit} after ${took}, ${size}.`);
  return { outcome: exit === 0 ? 'success' : 'failure', summary: `${spec.label}: exit ${exit} in ${took}`, logFile, cleanup };
}

async function ctxClusterKms(ctx: WorkerContext, cluster: string): Promise<{ kmsKeyId?: string }> {
  const { DescribeClustersCommand } = await import('@aws-sdk/client-ecs');
  const out = await ctx.aws!.ecs().send(new DescribeClustersCommand({ clusters: [cluster], include: ['CONFIGURATIONS'] }));
  const kmsKeyId = out.clusters?.[0]?.configuration?.executeCommandConfiguration?.kmsKeyId;
  return kmsKeyId ? { kmsKeyId } : {};
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
