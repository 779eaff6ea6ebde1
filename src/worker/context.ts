import type { WebClient } from '@slack/web-api';
import type { Approvals } from '../approval/approvals';
import type { DeployHistory } from '../deploy/history';
import type { DeployWorkflowInput, FleetWorkflowInput, RunWorkflowInput } from '../workflows/inputs';
import type { CatalogReader, FleetService } from '../fleet/types';
import type { AllowlistStore } from '../auth/allowlist';
import type { StateStore } from '../platform/state';
import type { AwsSession } from '../aws/session';
import type { Config, Target } from '../config/schema';
import type { CommandJob, ReactionJob } from '../platform/jobs';
import type { AuditLog } from '../audit/audit';
import type { Logger } from '../platform/logger';
import type { Outcome, ThreadOutput } from '../slack/thread-output';
import type { Schedules } from '../schedules/scheduler';

/**
 * What commands and reactions hand work to: where requests for approval and deploy history are
 * kept, and how the deploy and run workflows start. Built once by the worker's handler (src/handlers/worker.ts)
 * and passed down in every context; a test passes its own.
 */
export interface WorkerCollaborators {
  approvals: Approvals;
  deployHistory: DeployHistory;
  startDeployWorkflow: (input: DeployWorkflowInput) => Promise<void>;
  startRunWorkflow: (input: RunWorkflowInput) => Promise<void>;
  /** EventBridge Scheduler's view of the configuration's schedules (`/ecs schedules`). */
  schedules?: Schedules;
  /** Fleet commands (`/ecs status|verify <selector>`) hand their fan-out to the durable workflow. */
  startFleetWorkflow?: (input: FleetWorkflowInput) => Promise<void>;
  /** Where selectors are resolved; absent: the configuration's declared targets. */
  catalog?: CatalogReader;
}

export interface WorkerContext extends WorkerCollaborators {
  job: CommandJob;
  config: Config;
  /** Set when the verb names a service. */
  target?: { alias: string } & Target;
  /** Set with target: AWS clients for it, acting for the requester. */
  aws?: AwsSession;
  /**
   * The service the request names that only the fleet's catalog knows (its target, or the one a
   * grant of `/ecs allow` names), as the worker read it again for its re-authorisation.
   */
  discovered?: FleetService;
  out: ThreadOutput;
  allowlist: AllowlistStore;
  state: StateStore;
  slack: WebClient;
  logger: Logger;
  now: () => number;
  remainingMs: () => number;
}

export interface CommandResult {
  outcome: Outcome;
  /** One line for the parent message: `web: 2/2 running, steady`. */
  summary: string;
  /** The complete output on disk, attached to the thread when Slack could not show all of it. */
  logFile?: string;
  /**
   * The verb refused the request after looking at what it acts on: `denied` (not this person's
   * to do) or `invalid` (bad input, such as a bot to give a role to). Audited as such, outcome `refused`.
   */
  refused?: 'denied' | 'invalid';
  /** A script's exit status, when it reported one: kept in the audit record (the signed API's `GET /api/runs/{id}`). */
  exitCode?: number;
  /** The command continues elsewhere (a durable workflow), which will mark the parent itself. */
  continues?: boolean;
  /** Called once the answer (and any log file) has been delivered: temp files go. */
  cleanup?: () => Promise<void>;
}

/** A reaction on a message the bot tracks, with what the worker has to act on it. */
export interface ReactionContext {
  job: ReactionJob;
  /** The tracked record (state table) the reaction's message maps to. */
  tracked: Record<string, unknown>;
  config: Config;
  approvals: Approvals;
  slack: WebClient;
  allowlist: AllowlistStore;
  audit: () => AuditLog;
  logger: Logger;
  now: () => number;
}

export type ReactionHandler = (ctx: ReactionContext) => Promise<void>;
