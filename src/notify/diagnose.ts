/**
 * The diagnosis of a stopped task, as a platform engineer gathers it by hand: which revision and
 * image, how each container ended, the crashed container's last log lines, the deployment in
 * flight and, when the bot started it, its deploy thread. Each lookup is independent: one that
 * fails is named in the diagnosis ("could not read …"), never the end of it. Nothing of the task
 * definition's environment or secrets is read out, only the container names and images.
 * The notifier imports this module on the first stop it diagnoses, not at cold start.
 */
import { type ContainerDefinition, type Deployment, DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';
import { lastLogLines, logsLocation, type LogLine, type LogsLocation } from '../ecs/container-logs';
import type { StoppedContainer, TaskStopNotice } from './events';

export const LOG_LINES = 20;

export interface StopDiagnosis {
  /** `web:43`. */
  revision?: string;
  containers: Array<StoppedContainer & { essential?: boolean }>;
  stopCode?: string;
  stoppedReason?: string;
  /** The culprit's logs: its last lines, or where they are instead. */
  logs?: { location: LogsLocation; lines: LogLine[] };
  /** The deployment rolling out when the task stopped (PRIMARY, not yet COMPLETED). */
  deployment?: { id: string; revision: string; rolloutState?: string; reason?: string; failedTasks: number; startedByIt: boolean };
  /** What could not be looked up, in words. */
  gaps: string[];
}

export interface DiagnoseDeps {
  session: AwsSession;
}

const revisionOf = (arn: string | undefined) => arn?.slice(arn.lastIndexOf('/') + 1);
const describeError = (error: unknown) => (error as Error).name || 'an error';

export async function diagnoseStop(deps: DiagnoseDeps, notice: TaskStopNotice): Promise<StopDiagnosis> {
  const gaps: string[] = [];
  const ecs = deps.session.ecs();
  const [definition, deployments] = await Promise.all([
    notice.taskDefinitionArn
      ? ecs
          .send(new DescribeTaskDefinitionCommand({ taskDefinition: notice.taskDefinitionArn }))
          .then((out) => out.taskDefinition?.containerDefinitions ?? [])
          .catch((error: unknown) => {
            gaps.push(`the task definition (${describeError(error)})`);
            return undefined;
          })
      : Promise.resolve(undefined),
    ecs
      .send(new DescribeServicesCommand({ cluster: notice.where.cluster, services: [notice.where.service] }))
      .then((out) => out.services?.[0]?.deployments ?? [])
      .catch((error: unknown) => {
        gaps.push(`the service's deployments (${describeError(error)})`);
        return [] as Deployment[];
      }),
  ]);

  const byName = new Map<string, ContainerDefinition>((definition ?? []).map((c) => [c.name ?? '', c]));
  const containers = notice.containers.map((c) => ({
    ...c,
    ...(byName.has(c.name) ? { essential: byName.get(c.name)!.essential !== false } : {}),
    // The image the task definition names, when the event left it out.
    ...(!c.image && byName.get(c.name)?.image ? { image: byName.get(c.name)!.image } : {}),
  }));
  // The container to read: the culprit, else the first essential one.
  const culpritName = notice.culprit?.name ?? containers.find((c) => c.essential !== false)?.name;
  const culpritDefinition = culpritName ? byName.get(culpritName) : undefined;
  let logs: StopDiagnosis['logs'];
  if (culpritDefinition) {
    const location = logsLocation(culpritDefinition, notice.taskArn, notice.where.region);
    if (location.kind === 'awslogs') {
      const lines = await lastLogLines(deps.session, location, LOG_LINES).catch((error: unknown) => {
        gaps.push(`the log stream ${location.group} › ${location.stream} (${describeError(error)})`);
        return undefined;
      });
      if (lines) logs = { location, lines };
    } else logs = { location, lines: [] };
  }

  const primary = deployments.find((d) => d.status === 'PRIMARY');
  const inFlight = primary && primary.rolloutState !== 'COMPLETED' ? primary : undefined;
  return {
    ...(revisionOf(notice.taskDefinitionArn) ? { revision: revisionOf(notice.taskDefinitionArn) } : {}),
    containers,
    ...(notice.stopCode ? { stopCode: notice.stopCode } : {}),
    ...(notice.stoppedReason ? { stoppedReason: notice.stoppedReason } : {}),
    ...(logs ? { logs } : {}),
    ...(inFlight?.id
      ? {
          deployment: {
            id: inFlight.id,
            revision: revisionOf(inFlight.taskDefinition) ?? '?',
            ...(inFlight.rolloutState ? { rolloutState: inFlight.rolloutState } : {}),
            ...(inFlight.rolloutStateReason ? { reason: inFlight.rolloutStateReason } : {}),
            failedTasks: inFlight.failedTasks ?? 0,
            startedByIt: notice.startedBy === inFlight.id,
          },
        }
      : {}),
    gaps,
  };
}
