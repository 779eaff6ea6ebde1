/**
 * The typed arguments of each worker verb: what its parse() returns, what the job carries to the
 * worker, and what its handler takes. In a module of their own so a verb's declaration (which
 * loads its handler lazily) and the handler (which takes these types) do not import each other.
 */
import type { Grant } from '../../auth/roles';

export type AllowArgs = { subject: string; grant: Grant };
export type DenyArgs = { subject: string };
export type CancelArgs = { runId: string };
export type DeployArgs = { target: string; dryRun?: true } & ({ action: 'deploy'; image: string } | { action: 'redeploy' });
export type RollbackArgs = { target: string; revision?: string };
export type RunArgs = {
  script: string;
  /** The words after the script name, checked against its declaration. */
  args: string[];
};
export type JobArgs = {
  job: string;
  /** The words after the job name, checked against its declaration. */
  args: string[];
};
export type StatusArgs = { target: string };
/** `/ecs status|verify <selector>`: the selector as typed (a fleet run, src/commands/fleet.ts). */
export type FleetArgs = {
  selector: string;
  /** Beyond `selectors.maxSelection`: an admin of every selected service confirms the whole selection. */
  all?: true;
};
export type MuteArgs = {
  target: string;
  minutes: number;
  /** Plain text, as people read what was typed (mentions and links as their labels). */
  reason?: string;
};
export type UnmuteArgs = { target: string };
export type LogsArgs = {
  target: string;
  /** A task id (or ARN) of the service; absent: its newest task. */
  task?: string;
  /** Absent: the service's application container. */
  container?: string;
  /** Lines shown in the thread (the last ones); with a window, all its lines are attached. */
  lines: number;
  /** A window of this many ms back from now, across the service's tasks (FilterLogEvents). */
  since?: number;
  /** Only lines holding this literal text (a quoted filter-pattern term). */
  grep?: string;
  /** Tail for this many ms after the window. */
  follow?: number;
};
export type VerifyArgs = {
  target: string;
  /** Check what a deploy of this image (or tag) would leave behind. */
  image?: string;
  /** Prove logging works by writing one line to each log group: `--put-logs`, else the target's `verify.putLogs`. */
  putLogs: boolean;
};
export type ScaleArgs = {
  target: string;
  /** The desired count asked for: an integer from 0 to the target's `scale.maxCount`. */
  count: number;
  /** Widen the service's autoscaling range to include `count` instead of refusing a count outside it. */
  adjustAutoscaling: boolean;
};
export type HistoryArgs = {
  /** A service alias, or the service of `script`; absent: everything the person may see. */
  target?: string;
  /** A script or job name (its records are found by it, its service is `target`). */
  script?: string;
  /** Only this person's actions (a Slack user id). */
  user?: string;
  /** A window of this many ms back from now. */
  since?: number;
  /** Attach the whole window as CSV. */
  export?: true;
};

/** `/ecs schedules [pause|resume <name>]`. */
export type SchedulesArgs = { action: 'list' } | { action: 'pause' | 'resume'; schedule: string };
