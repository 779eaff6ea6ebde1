import type { AllowlistStore } from '../auth/allowlist';
import type { AwsSession } from '../aws/session';
import type { Config, Target } from '../config/schema';
import type { CommandJob } from '../platform/jobs';
import type { Logger } from '../platform/logger';
import type { Outcome, ThreadOutput } from '../slack/thread-output';
import type { ParsedRequest } from './registry';

export interface WorkerContext {
  job: CommandJob;
  request: ParsedRequest;
  config: Config;
  /** Set when the verb names a service. */
  target?: { alias: string } & Target;
  /** Set with target: AWS clients for it, acting for the requester. */
  aws?: AwsSession;
  out: ThreadOutput;
  allowlist: AllowlistStore;
  logger: Logger;
  now: () => number;
  remainingMs: () => number;
}

export interface CommandResult {
  outcome: Outcome;
  /** One line for the parent message: `web: 2/2 running, steady`. */
  summary: string;
}

export type WorkerCommand = (ctx: WorkerContext) => Promise<CommandResult>;
