import type { Service, TaskDefinition } from '@aws-sdk/client-ecs';
import type { VerifyContext } from './context';

export type Status = 'OK' | 'WARN' | 'FAIL' | 'SKIP';

/**
 * What one check found, in plain words. Message, fix, and a spec's title and group are plain text
 * with `code` marks: AWS values and placeholders (`<subnet-id>`) go in as they are, and the
 * renderer (render.ts) escapes them for Slack, exactly once.
 */
export interface CheckOutcome {
  status: Status;
  /** What was found: "Log group /ecs/web exists in us-east-1". */
  message: string;
  /** For WARN and FAIL: what to do (the IAM statement to add, the CLI command, the config line). */
  fix?: string;
  /**
   * The check could not be carried out (the bot lacks a permission, AWS kept throttling, time ran
   * out): such a result is a WARN, never OK, and says what the bot needs.
   */
  unverified?: boolean;
}

/**
 * One small, declarative check. Checks form a tree like ecspresso's output: a check may discover
 * further checks once it has run (`then`), e.g. one per container after the task definition is read.
 */
export interface CheckSpec {
  /** Unique within a run: `taskdef`, `image:app`, `secret:app:DATABASE_URL`. */
  id: string;
  /** Family, for grouping and for `verify.skip` in the configuration. */
  family: Family;
  title: string;
  /** Where it sits in the tree: `['TaskDefinition web:42', 'Container app']`. */
  group: string[];
  /** Ids of checks that must have finished first; if one of them FAILED, this one is skipped. */
  needs?: string[];
  run(ctx: VerifyContext): Promise<CheckOutcome>;
  then?(ctx: VerifyContext, outcome: CheckOutcome): CheckSpec[] | Promise<CheckSpec[]>;
}

/** What a check family plans its checks from, once the task definition is known. */
export interface PlanInput {
  ctx: VerifyContext;
  taskDefinition: TaskDefinition;
  service: Service;
}

export type Planner = (input: PlanInput) => CheckSpec[];

const FAMILIES = ['cluster', 'service', 'taskdef', 'roles', 'images', 'logs', 'secrets', 'loadbalancing', 'exec', 'network', 'permissions'] as const;
export type Family = (typeof FAMILIES)[number];

export interface CheckResult extends CheckOutcome {
  id: string;
  family: Family;
  title: string;
  group: string[];
  durationMs: number;
  /** Position in the plan (stable tree order, whatever order checks finished in). */
  order: number;
}

export interface VerifySummary {
  ok: number;
  warn: number;
  fail: number;
  skip: number;
  unverified: number;
}

export function summarize(results: CheckResult[]): VerifySummary {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  return { ok: count('OK'), warn: count('WARN'), fail: count('FAIL'), skip: count('SKIP'), unverified: results.filter((r) => r.unverified).length };
}

export const ok = (message: string): CheckOutcome => ({ status: 'OK', message });
export const warn = (message: string, fix?: string): CheckOutcome => ({ status: 'WARN', message, ...(fix ? { fix } : {}) });
export const fail = (message: string, fix?: string): CheckOutcome => ({ status: 'FAIL', message, ...(fix ? { fix } : {}) });
export const skip = (message: string): CheckOutcome => ({ status: 'SKIP', message });
export const unverified = (message: string, fix?: string): CheckOutcome => ({ status: 'WARN', message, unverified: true, ...(fix ? { fix } : {}) });
