import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions } from '../../local/aws';
import { AwsSession } from '../../src/aws/session';
import { DEPLOY_DEFAULTS, type Target } from '../../src/config/schema';
import { VerifyContext, type VerifyOptions } from '../../src/verify/context';
import { runChecks } from '../../src/verify/engine';
import type { CheckResult, CheckSpec } from '../../src/verify/types';

/** Targets of the seeded sample account. */
const verify = { skip: [], putLogs: false, requiredPermissions: [] };
const deploy = DEPLOY_DEFAULTS;
export const TARGETS: Record<string, Target> = {
  web: { region: 'us-east-1', cluster: 'main', service: 'web', verify, deploy },
  broken: { region: 'us-east-1', cluster: 'main', service: 'broken', verify, deploy },
  manager: { region: 'us-east-1', cluster: 'main', service: 'manager', manager: { container: 'app' }, verify, deploy },
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
      new VerifyContext(alias, TARGETS[alias]!, new AwsSession(TARGETS[alias]!, { teamId: 'T0LOCAL', userId: 'U0ALICE' }), {
        putLogs: false,
        skip: [],
        ...options,
      });
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

/** Sets properties for the current test only (emulator state a test bends), restored when it ends. */
export function patch<T extends object>(target: T, changes: Partial<T>): void {
  const saved = Object.keys(changes).map((k) => [k, Object.hasOwn(target, k), (target as Record<string, unknown>)[k]] as const);
  Object.assign(target, changes);
  onTestFinished(() => {
    for (const [k, had, value] of saved) {
      if (had) (target as Record<string, unknown>)[k] = value;
      else delete (target as Record<string, unknown>)[k];
    }
  });
}

/** Runs a family's checks for a seeded target and returns its results with the AWS calls they made (of one service, if named). */
export async function runRecorded(h: VerifyHarness, specs: (ctx: VerifyContext) => CheckSpec[] | Promise<CheckSpec[]>, alias: string, service?: string) {
  const before = h.aws.calls.length;
  const results = await h.run(specs, alias);
  const calls = h.aws.calls.slice(before).filter((c) => !service || c.service === service);
  return { results, r: byId(results), calls };
}
