/**
 * The suite's IAM coverage: grants = calls, both ways (local/iam/coverage.ts). Every local world
 * logs the decisions IAM made for the bot's roles; after a run of EVERY test file that passed, the
 * decisions are compared with serverless.yml's roles and infra/'s target role. A grant no call
 * used (not listed with its reason in iam-coverage-exceptions.ts), an exception that no longer
 * applies, or a call a role refused fails the run. A partial run (one file, a filter) skips it:
 * what is unused there says nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { coverageFindings, DECISION_LOG_ENV, readDecisionLogs, type CoveredRole } from '../../local/iam/coverage';
import { forwarderFor, forwardingAccounts, localStack, TARGET_ACCOUNTS } from '../../local/iam/enforce';
import { targetRoleFor } from '../../local/iam/stack';
import { IAM_COVERAGE_EXCEPTIONS } from './iam-coverage-exceptions';

export function coveredRoles(): CoveredRole[] {
  const stack = localStack();
  const targets = TARGET_ACCOUNTS.map((account) => targetRoleFor(stack, account));
  // infra/ecs-events-forwarder.yaml's role: EventBridge's PutEvents with it is decided by the authority.
  const forwarders = forwardingAccounts(stack).flatMap((account) => forwarderFor(stack, account) ?? []);
  return [
    ...Object.entries(stack.functions).map(([key, fn]) => ({ label: key, roleArns: [fn.roleArn], policies: fn.inline })),
    { label: 'target role', roleArns: targets.map((t) => t.roleArn), policies: targets[0]!.inline },
    ...(forwarders.length ? [{ label: 'events forwarder role', roleArns: forwarders.map((f) => f.role.roleArn), policies: forwarders[0]!.role.inline }] : []),
    // EventBridge Scheduler's execution role: its lambda:InvokeFunction is decided by the authority as Scheduler delivers.
    ...[...new Map(stack.schedules.map((s) => [s.role.roleArn, s.role])).values()].map((role) => ({
      label: 'scheduler role',
      roleArns: [role.roleArn],
      policies: role.inline,
    })),
  ];
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'ecs-chatops-iam-decisions-'));
  process.env[DECISION_LOG_ENV] = dir;
  return async () => {
    try {
      const ran = project.vitest.state.getFiles();
      const ranPaths = new Set(ran.map((file) => file.filepath));
      const { testFiles } = await project.globTestFiles();
      if (!testFiles.every((file) => ranPaths.has(file))) return;
      if (ran.some((file) => file.result?.state !== 'pass')) return; // the failures say more than the coverage would
      const findings = coverageFindings(coveredRoles(), readDecisionLogs(dir));
      const excepted = new Set(IAM_COVERAGE_EXCEPTIONS.map((e) => e.id));
      const unexplained = findings.filter((f) => !excepted.has(f.id));
      const stale = IAM_COVERAGE_EXCEPTIONS.filter((e) => !e.raced && !findings.some((f) => f.id === e.id));
      if (unexplained.length || stale.length) {
        console.error(
          [
            'IAM coverage failed (grants = calls; local/iam/coverage.ts):',
            ...unexplained.map((f) => `  ${f.kind}: ${f.detail}\n    (id "${f.id}")`),
            ...stale.map((e) => `  stale exception: "${e.id}" no longer matches anything; remove it from test/support/iam-coverage-exceptions.ts`),
          ].join('\n'),
        );
        process.exitCode = 1;
      } else {
        console.log(`IAM coverage: every grant of ${coveredRoles().length} roles was used, or is listed with its reason (${IAM_COVERAGE_EXCEPTIONS.length}).`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
