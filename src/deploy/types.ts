/**
 * The shapes of a deploy: its plan and its lock. All JSON: they live in DynamoDB and in workflow
 * checkpoints. The request for approval is src/approval/types.ts, the workflow's input
 * src/workflows/inputs.ts.
 */
import type { ImageChange } from '../ecs/taskdef';
import type { PlanBasis } from './plan-hash';

export type DeployAction = 'deploy' | 'redeploy' | 'rollback';

/** What a deploy will do, computed before anyone is asked to approve it. */
export interface DeployPlan {
  action: DeployAction;
  /** The service's task definition when the request was made (ARN). */
  currentTaskDefinition: string;
  /** deploy: registered from `currentTaskDefinition` with `changes`; rollback: this existing revision; redeploy: the current one. */
  targetTaskDefinition?: string;
  changes: ImageChange[];
  /** One line per image for people: `web: …/web:v1.4.0 → …/web:v1.5.0`. */
  imageNotes: string[];
  /** What the approvals are bound to (src/deploy/plan-hash.ts); read again before anything changes. Absent on requests made before it existed. */
  basis?: PlanBasis;
  /** Its fingerprint, shown with the request. */
  hash?: string;
  /** The service's deployment strategy in words (src/deploy/strategy.ts), as planned. */
  strategy?: string;
}

/** Who holds a service's deploy lock. */
export interface DeployLock extends Record<string, unknown> {
  deployId: string;
  userId: string;
  channelId: string;
  threadTs: string;
  startedAt: string;
  commandText: string;
}
