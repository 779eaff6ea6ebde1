/**
 * One command in a container through ECS Exec: ExecuteCommand, the data channel (with the KMS
 * handshake when the cluster encrypts sessions), the output cleaned into lines, the exit code from
 * the marker. `/ecs run` streams a whole script through `startExecCommand` + `connectExecSession`;
 * the durable workflow of detached runs uses `execOnce` for its short start/follow/stop/cat
 * sessions, each of which fits easily in one Lambda invocation.
 */
import { DescribeClustersCommand, ExecuteCommandCommand } from '@aws-sdk/client-ecs';
import { KMSClient } from '@aws-sdk/client-kms';
import { explainAwsError } from '../aws/errors';
import type { AwsSession } from '../aws/session';
import { explainExecError, type ExecTarget } from './target';
import { UserFacingError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { kmsDataKeyGenerator } from './crypto';
import { OutputCleaner } from './output';
import { ExecSession, type ExecCloseReason } from './session';

/** Where a session goes, in a form that survives a checkpoint (plain JSON, no SDK objects). */
export interface ExecPlace {
  cluster: string;
  taskArn: string;
  taskId: string;
  container: string;
  /** The container's runtime id: part of the KMS handshake's encryption context. */
  runtimeId?: string;
}

export function execPlace(target: ExecTarget): ExecPlace {
  const runtimeId = target.task.containers?.find((c) => c.name === target.container)?.runtimeId;
  return { cluster: target.cluster, taskArn: target.task.taskArn!, taskId: target.taskId, container: target.container, ...(runtimeId ? { runtimeId } : {}) };
}

export interface StartedExec {
  streamUrl: string;
  tokenValue: string;
  sessionId: string;
}

/** ExecuteCommand with the failures people can fix explained (target alias for the hints). */
export async function startExecCommand(aws: AwsSession, alias: string, place: ExecPlace, command: string): Promise<StartedExec> {
  const exec = await aws
    .ecs()
    .send(new ExecuteCommandCommand({ cluster: place.cluster, task: place.taskArn, container: place.container, command, interactive: true }))
    .catch((error: unknown) => {
      throw explainExecError(error, alias) ?? explainAwsError(error, 'starting an ECS Exec session');
    });
  if (!exec.session?.streamUrl || !exec.session.tokenValue) throw new UserFacingError('ECS started no session (no stream URL in its answer).');
  return { streamUrl: exec.session.streamUrl, tokenValue: exec.session.tokenValue, sessionId: exec.session.sessionId ?? '' };
}

/**
 * The SSM target of an exec session, as the agent computes it for the KMS encryption context:
 * `ecs:<cluster name>_<task id>_<runtime id>`. A target may name its cluster by ARN; the agent
 * (and the AWS CLI) use the name after the last `/`, so must we, or the handshake fails.
 */
export const execTargetId = (place: Pick<ExecPlace, 'cluster' | 'taskId' | 'runtimeId'>): string =>
  `ecs:${place.cluster.slice(place.cluster.lastIndexOf('/') + 1)}_${place.taskId}_${place.runtimeId ?? ''}`;

/** Opens the data channel of a started session; clusters with an exec KMS key get the handshake. */
export async function connectExecSession(aws: AwsSession, place: ExecPlace, started: StartedExec, logger?: Logger): Promise<ExecSession> {
  const described = await aws.ecs().send(new DescribeClustersCommand({ clusters: [place.cluster], include: ['CONFIGURATIONS'] }));
  const kmsKeyId = described.clusters?.[0]?.configuration?.executeCommandConfiguration?.kmsKeyId;
  return ExecSession.open({
    streamUrl: started.streamUrl,
    tokenValue: started.tokenValue,
    ...(kmsKeyId
      ? {
          kms: {
            generateDataKey: kmsDataKeyGenerator(aws.client(KMSClient)),
            sessionId: started.sessionId,
            target: execTargetId(place),
          },
        }
      : {}),
    ...(logger ? { logger } : {}),
  });
}

export interface ExecOnceOptions {
  aws: AwsSession;
  /** Target alias, for the hints of explainExecError. */
  alias: string;
  place: ExecPlace;
  /** Built by command.ts / detached.ts; must print the marker of `nonce` to report an exit code. */
  command: string;
  nonce: string;
  /** Each batch of cleaned lines as it arrives (e.g. into a spool); the result holds them all unless `keepLines` is false. */
  onLines?: (lines: string[]) => void;
  /** Default true. False for large outputs that go only to onLines. */
  keepLines?: boolean;
  /** The session is ended after this long (default 60 s): these sessions are meant to be short. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface ExecOnceResult {
  lines: string[];
  /** From the marker; undefined when the command did not print it (ended early, lost connection). */
  exitCode: number | undefined;
  reason: ExecCloseReason;
  /** Set when the session was ended by timeoutMs. */
  timedOut: boolean;
  error?: Error;
}

export async function execOnce(options: ExecOnceOptions): Promise<ExecOnceResult> {
  const started = await startExecCommand(options.aws, options.alias, options.place, options.command);
  const session = await connectExecSession(options.aws, options.place, started, options.logger);
  const cleaner = new OutputCleaner({ nonce: options.nonce });
  const keep = options.keepLines ?? true;
  const lines: string[] = [];
  const take = (batch: string[]) => {
    if (!batch.length) return;
    if (keep) lines.push(...batch);
    options.onLines?.(batch);
  };
  session.on('output', (chunk) => take(cleaner.push(chunk)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void session.terminate();
  }, options.timeoutMs ?? 60_000);
  let result: Awaited<typeof session.closed>;
  try {
    result = await session.closed;
  } finally {
    clearTimeout(timer);
  }
  take(cleaner.end());
  return { lines, exitCode: cleaner.exitCode, reason: result.reason, timedOut, ...(result.error ? { error: result.error } : {}) };
}
