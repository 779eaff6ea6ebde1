import { afterAll, beforeAll } from 'vitest';
import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions } from '../../local/aws';
import { AwsSession } from '../../src/aws/session';
import type { Target } from '../../src/config/schema';
import { VerifyContext, type VerifyOptions } from '../../src/verify/context';
import { runChecks } from '../../src/verify/engine';
import type { CheckResult, CheckSpec } from '../../src/verify/types';

/** Targets of the seeded sample account. */
const verify = { skip: [], putLogs: false, requiredPermissions: [] };
export const TARGETS: Record<string, Target> = {
  web: { region: 'us-east-1', cluster: 'main', service: 'web', verify },
  broken: { region: 'us-east-1', cluster: 'main', service: 'broken', verify },
  manager: { region: 'us-east-1', cluster: 'main', service: 'manager', manager: { container: 'app' }, verify },
};

export interface VerifyHarness {
  aws: AwsEmulator;
  /** A fresh context (fresh memo) for a seeded target. */
  context(alias: string, options?: Partial<VerifyOptions>): VerifyContext;
  /** Runs specs (with their `then` children) and returns every result. */
  run(specs: (ctx: VerifyContext) => CheckSpec[] | Promise<CheckSpec[]>, alias: string, options?: Partial<VerifyOptions>): Promise<CheckResult[]>;
}

/** The emulator for this test file, with the SDK pointed at it through the standard endpoint settings. */
export function useVerifyHarness(emulatorOptions: AwsEmulatorOptions = {}): VerifyHarness {
  const harness = {} as VerifyHarness;
  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const aws = await startAwsEmulator(emulatorOptions);
    Object.assign(process.env, aws.endpointEnv());
    harness.aws = aws;
    harness.context = (alias, options = {}) =>
      new VerifyContext(alias, TARGETS[alias]!, new AwsSession(TARGETS[alias]!, { teamId: 'T0LOCAL', userId: 'U0ALICE' }), { putLogs: false, skip: [], ...options });
    harness.run = async (specs, alias, options) => {
      const ctx = harness.context(alias, options);
      try {
        return await runChecks(await specs(ctx), ctx, { timeoutMs: 10_000 });
      } finally {
        ctx.aws.destroy();
      }
    };
  });
  afterAll(async () => {
    await harness.aws?.close();
  });
  return harness;
}

/** Results by id, for assertions. */
export const byId = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.id, r]));
