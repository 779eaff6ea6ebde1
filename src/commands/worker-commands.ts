import { allow } from './allow';
import { deny } from './deny';
import { run } from './run';
import { status } from './status';
import { verify } from './verify';
import type { WorkerCommand } from './worker-types';

/** Commands the worker runs, answering in a thread. */
export const WORKER_COMMANDS: Record<string, WorkerCommand> = { status, verify, run, allow, deny };
