/**
 * What the worker hands the durable workflows (src/workflows/): JSON payloads of an asynchronous
 * invoke, checkpointed by Lambda. Types only, so the worker's commands name them without loading a workflow.
 */
import type { AuditKey } from '../audit/audit';
import type { ContainerDefinition, RunTaskCommandInput } from '@aws-sdk/client-ecs';
import type { Target } from '../config/schema';
import type { DeployPlan } from '../deploy/types';
import type { ApprovalRule } from '../approval/types';

/** The deploy workflow's input (src/workflows/deploy.ts). */
export interface DeployWorkflowInput {
  deployId: string;
  /** State-table key of the request. */
  requestKey: string;
  target: string;
  /** The target's service and account as planned (not re-read from a configuration that may change). */
  where: Pick<Target, 'region' | 'cluster' | 'service' | 'roleArn'>;
  teamId: string;
  requesterId: string;
  requesterName?: string;
  channelId: string;
  parentTs: string;
  /** The request's headline, kept when the parent message is marked with the outcome. */
  headline: string;
  plan: DeployPlan;
  /** Epoch ms when the request was made; the approval wait lasts until `deadline`. */
  requestedAt: number;
  deadline: number;
  /** The deploy lock (`lock#deploy#<target>`), released at the end. */
  lockKey: string;
  audit: AuditKey;
  /** Roll back when the rollout fails. */
  rollback: boolean;
  /** Seconds the rollout may take. */
  timeoutSeconds: number;
  /** `suspendAutoscaling`: scaling activities suspended from before UpdateService to the end (src/deploy/autoscaling-suspend.ts). */
  suspendAutoscaling?: true;
  /** A change its target lets through without approval (a scale with `scale.requiresApproval: false`): no request to wait for. */
  approval?: 'not-required';
  /**
   * ECS-native deployments: the lifecycle stages where a PAUSE hook waits for people (the target's
   * `deploy.gates`) and the approval settings that decide them, as the request was made.
   */
  gates?: { stages: string[]; rule: Pick<ApprovalRule, 'approverRole' | 'approveEmoji' | 'rejectEmoji'> & { approvals: number; expirySeconds: number } };
}

/** The run workflow's input (src/workflows/run.ts). */
export interface RunWorkflowInput {
  runId: string;
  script: string;
  args: string[];
  /** Target alias (config.targets). */
  target: string;
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  /** The command's parent message, whose thread the run reports in. */
  parentTs: string;
  /** Its text, kept when the parent is marked with the outcome. */
  parentText?: string;
  /** The audit record the worker opened (outcome `accepted`); the workflow completes it. */
  audit: AuditKey;
  /** The run's lock (absent for scripts that allow overlap); released at the end. */
  lockKey?: string;
  /** Epoch ms, when the worker accepted the run: durations in the thread count from it. */
  startedAt: number;
  timeoutSeconds: number;
  /** Time between follows. */
  pollSeconds: number;
  /** The script's path as the request was made (and approved); default: the configuration's. */
  path?: string;
  /** A script declared requiresApproval: its request, decided before the script starts. */
  approval?: { requestKey: string; requestedAt: number; deadline: number };
  /** The run's living message the worker already posted: the workflow edits it instead of posting one. */
  progressTs?: string;
  /** A one-off job (`/ecs job`, src/workflows/run-job.ts) instead of a script: its task as planned. */
  job?: JobPlan;
}

/**
 * A fleet command's run (`/ecs status <selector>`, `/ecs verify <selector>`; src/workflows/fleet.ts),
 * handed to the run workflow's function: the services the person may read, by account (the map's
 * items), the summary message the worker posted, and the thread.
 */
export interface FleetWorkflowInput extends CommandOrigin {
  fleet: {
    kind: 'status' | 'verify';
    /** As typed (plain text): resolved again in the workflow, then only `batches`' aliases kept. */
    selector: string;
    /** Aliases grouped by account: each group is one item of the durable map. */
    batches: string[][];
    /**
     * Each alias's service as the worker selected and authorised it (servicePin of its ARN): an
     * alias a refresh moved to another service meanwhile is not run, since nobody checked that one.
     * Absent in runs started before pins existed.
     */
    pins?: Record<string, string>;
    /** The living summary message the worker posted. */
    summaryTs?: string;
  };
  runId: string;
}

/** Who asked, where the answer goes and the audit record the worker opened: what every workflow input of a command carries. */
export type CommandOrigin = Pick<RunWorkflowInput, 'teamId' | 'userId' | 'userName' | 'channelId' | 'parentTs' | 'parentText' | 'audit' | 'startedAt'>;

/**
 * A job's task as the worker planned it from its service (and as the approvers saw it): the
 * workflow runs exactly this, even if the service is deployed meanwhile.
 */
export interface JobPlan {
  /** RunTask's request: the task definition revision, the command, startedBy, clientToken, tags. */
  request: RunTaskCommandInput;
  /** The job's container and its log configuration (where its lines go). */
  container: Pick<ContainerDefinition, 'name' | 'logConfiguration'>;
  /** The task definition's essential containers (each one's exit code decides). */
  essential: string[];
  /** The target's region (an awslogs configuration without one logs there). */
  region: string;
}
