/**
 * Grants = calls, both ways. Every local world records the IAM decisions made for the bot's roles
 * (authorization.ts); at the end of a full test run the decisions of every world are put together
 * and compared with the policies: a statement granting an action nobody sent, or a resource no
 * call was made on, is a grant too many; a call the role refused is a grant missing.
 *
 * The log is written only when the suite asks for it (ECS_CHATOPS_IAM_DECISIONS names a
 * directory), one file per world, with each distinct decision once.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecisionRecord } from '../aws/authorization';
import { glob, type PolicyDocument } from '../aws/policy';

export const DECISION_LOG_ENV = 'ECS_CHATOPS_IAM_DECISIONS';

const keyOf = (d: DecisionRecord) => JSON.stringify([d.functionName ?? '', d.roleArn, d.action, d.resource, d.decision]);

export function writeDecisionLog(decisions: readonly DecisionRecord[], dir = process.env[DECISION_LOG_ENV]): void {
  if (!dir || decisions.length === 0) return;
  const distinct = new Map(decisions.map((d) => [keyOf(d), d]));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${process.pid}-${randomUUID()}.jsonl`), [...distinct.values()].map((d) => JSON.stringify(d)).join('\n') + '\n');
}

export function readDecisionLogs(dir: string): DecisionRecord[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return [];
  }
  const distinct = new Map<string, DecisionRecord>();
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const d = JSON.parse(line) as DecisionRecord;
      distinct.set(keyOf(d), d);
    }
  }
  return [...distinct.values()];
}

/** A role whose grants are checked, with the policies it was given. */
export interface CoveredRole {
  /** How the report names it: the function (`worker`) or `target role`. */
  label: string;
  /** The role's ARNs (the target role is one role in several accounts). */
  roleArns: string[];
  policies: Record<string, PolicyDocument>;
}

/** A grant nobody used, or a call refused. `id` is what an exception names. */
export interface CoverageFinding {
  kind: 'unused-action' | 'unused-resource' | 'refused';
  /** `<label> <Sid> <action>`, `<label> <Sid> <resource pattern>` or `<label> refused <action> <resource>`. */
  id: string;
  detail: string;
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * What the decisions leave unexplained. Only Allow statements with Action and Resource are
 * checked (NotAction/NotResource grants are not used by the bot). A statement's action counts as
 * sent when an allowed decision of that role has the action (IAM matches actions case-insensitively)
 * on a resource the statement names; a resource pattern counts when an allowed decision of one of
 * the statement's actions was on a matching resource.
 */
export function coverageFindings(roles: readonly CoveredRole[], decisions: readonly DecisionRecord[]): CoverageFinding[] {
  const findings: CoverageFinding[] = [];
  for (const role of roles) {
    const mine = decisions.filter((d) => role.roleArns.includes(d.roleArn));
    const allowed = mine.filter((d) => d.decision === 'allowed');
    for (const [policyName, doc] of Object.entries(role.policies)) {
      asList(doc.Statement).forEach((statement, index) => {
        if (statement.Effect !== 'Allow' || !statement.Action || !statement.Resource) return;
        const sid = statement.Sid ?? `${policyName}#${index + 1}`;
        const actions = asList(statement.Action);
        const resources = asList(statement.Resource);
        const onResource = (d: DecisionRecord, patterns: string[]) => patterns.some((p) => glob(p).test(d.resource));
        const ofAction = (d: DecisionRecord, action: string) => glob(action, true).test(d.action);
        for (const action of actions) {
          if (!allowed.some((d) => ofAction(d, action) && onResource(d, resources))) {
            findings.push({
              kind: 'unused-action',
              id: `${role.label} ${sid} ${action}`,
              detail: `${role.label}: ${sid} grants ${action} on ${resources.join(', ')}, but no call in the suite used it`,
            });
          }
        }
        for (const resource of resources) {
          if (!allowed.some((d) => actions.some((a) => ofAction(d, a)) && onResource(d, [resource]))) {
            findings.push({
              kind: 'unused-resource',
              id: `${role.label} ${sid} ${resource}`,
              detail: `${role.label}: ${sid} names ${resource} for ${actions.join(', ')}, but no call in the suite was on it`,
            });
          }
        }
      });
    }
    for (const refused of mine.filter((d) => d.decision !== 'allowed')) {
      findings.push({
        kind: 'refused',
        id: `${role.label} refused ${refused.action} ${refused.resource}`,
        detail: `${role.label}${refused.functionName ? ` (called from ${refused.functionName})` : ''} was refused ${refused.action} on ${refused.resource} (${refused.decision})`,
      });
    }
  }
  return findings;
}
