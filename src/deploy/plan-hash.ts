/**
 * What an approval is bound to. The plan people approve rests on a few facts: the revision the
 * service runs, its deployment controller and strategy, and the exact content of the task
 * definition it would run. Their hash is shown with the request; before the deploy workflow
 * changes anything it reads them again, and if any moved (someone deployed from CI meanwhile,
 * the controller or strategy changed, a rollback's revision was deregistered) the approvals are
 * void and nothing is deployed: the people approved something else.
 */
import { createHash } from 'node:crypto';
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { shortTaskDefinition } from '../ecs/taskdef';
import { comparable } from './diff';

export interface PlanBasis {
  /** The revision the service ran when the plan was made. */
  running: string;
  /** `ECS`, `CODE_DEPLOY`, `EXTERNAL`. */
  controller: string;
  /** `ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`. */
  strategy: string;
  /** The revision it would run: an existing one (rollback, redeploy), or `new:` the one it is registered from. */
  target: string;
  /** SHA-256 of the target definition's content (server-set fields left out). */
  content: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export const contentHash = (td: TaskDefinition): string => sha256(JSON.stringify(comparable(td)));

export function planBasis(service: Service, target: { existing: string } | { registeredFrom: string }, to: TaskDefinition): PlanBasis {
  return {
    running: service.taskDefinition ?? '',
    controller: service.deploymentController?.type ?? 'ECS',
    strategy: service.deploymentConfiguration?.strategy ?? 'ROLLING',
    target: 'existing' in target ? target.existing : `new:${target.registeredFrom}`,
    content: contentHash(to),
  };
}

/** The plan's fingerprint: 12 hex characters shown with the request. */
export const planHash = (basis: PlanBasis): string =>
  sha256(JSON.stringify([basis.running, basis.controller, basis.strategy, basis.target, basis.content])).slice(0, 12);

/** What moved between the approved basis and the one read now, in words (plain text); empty when nothing did. */
export function basisChanges(approved: PlanBasis, now: PlanBasis & { targetStatus?: string }): string[] {
  const out: string[] = [];
  if (approved.running !== now.running) out.push(`the service now runs ${shortTaskDefinition(now.running)}, not ${shortTaskDefinition(approved.running)}`);
  if (approved.controller !== now.controller) out.push(`its deployment controller is now ${now.controller}, not ${approved.controller}`);
  if (approved.strategy !== now.strategy) out.push(`its deployment strategy is now ${now.strategy}, not ${approved.strategy}`);
  if (now.targetStatus && now.targetStatus !== 'ACTIVE') out.push(`${shortTaskDefinition(approved.target)} is now ${now.targetStatus}`);
  if (approved.content !== now.content) out.push('the task definition it would run is not the one shown');
  return out;
}
