import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { withImage } from '../ecs/taskdef';
import { VerifyContext, type VerifyOptions } from './context';
import { runChecks, type EngineOptions } from './engine';
import { rootChecks } from './plan';
import type { CheckResult } from './types';

export interface VerifyRun {
  alias: string;
  target: Target;
  aws: AwsSession;
  /** Verify what a deploy of this image (or tag) would register instead of the current task definition. */
  image?: string;
  /** Overrides the target's `verify.putLogs`. */
  putLogs?: boolean;
}

/** One verify run: the same engine for Slack, the terminal and the benchmark. */
export async function verifyService(run: VerifyRun, engine: EngineOptions = {}): Promise<CheckResult[]> {
  const options: VerifyOptions = {
    putLogs: run.putLogs ?? run.target.verify.putLogs,
    skip: run.target.verify.skip,
    ...(run.image ? { image: run.image } : {}),
  };
  const prospective = run.image ? (td: Parameters<typeof withImage>[0]) => withImage(td, run.image!, run.target.appContainers).taskDefinition : undefined;
  const ctx = new VerifyContext(run.alias, run.target, run.aws, options, prospective);
  return runChecks(rootChecks(ctx), ctx, engine);
}
