import { allow } from './allow';
import { deny } from './deny';
import { approveByReaction } from './approve';
import { deploy, rollback } from './deploy';
import { run } from './run';
import { status } from './status';
import { verify } from './verify';
import type { ReactionHandler, WorkerCommand } from './worker-types';

/** Commands the worker runs, answering in a thread. */
export const WORKER_COMMANDS: Record<string, WorkerCommand> = { status, verify, run, allow, deny, deploy, rollback };

/** What a reaction on a tracked message does, by the tracked record's kind. */
export const REACTION_HANDLERS: Record<string, ReactionHandler> = { deploy: approveByReaction, run: approveByReaction };
