/**
 * The shapes of a deploy: its plan and its lock. All JSON: they live in DynamoDB and in workflow
 * checkpoints. The request for approval is src/approval/types.ts, the workflow's input
 * src/workflows/inputs.ts.
 */
import type { ImageChange } from '../ecs/taskdef';
import type { CodeDeployPlan } from './codedeploy';
import type { PlanBasis } from './plan-hash';

export type DeployAction = 'deploy' | 'redeploy' | 'rollback' | 'scale';

/** Application Auto Scaling's range for a service's desired count. */
export interface ScaleBounds {
  min: number;
  max: number;
}

/** What `/ecs scale` changes: the desired count only (UpdateService creates no new deployment). */
export interface ScalePlan {
  /** The desired count asked for. */
  desiredCount: number;
  /** desiredCount and runningCount when the request was made. */
  fromDesiredCount: number;
  running: number;
  /** The service's scalable target when the request was made; absent: it has none. */
  bounds?: ScaleBounds;
  /** `--adjust-autoscaling`: the scalable target's range is widened to include `desiredCount` first. */
  adjustAutoscaling?: boolean;
}

/** What a deploy will do, computed before anyone is asked to approve it. */
export interface DeployPlan {
  action: DeployAction;
  /** The service's task definition when the request was made (ARN). */
  currentTaskDefinition: string;
  /** deploy: registered from `currentTaskDefinition` with `changes`; rollback: this existing revision; redeploy: the current one. */
  targetTaskDefinition?: string;
  changes: ImageChange[];
  /** One line per image for people: `web: …/web:v1.4.0 → …/web:v1.5.0` (scale: the counts and the range). */
  imageNotes: string[];
  /** What the approvals are bound to (src/deploy/plan-hash.ts); read again before anything changes. Absent on requests made before it existed. */
  basis?: PlanBasis;
  /** Its fingerprint, shown with the request. */
  hash?: string;
  /** The service's deployment strategy in words (src/deploy/strategy.ts), as planned. */
  strategy?: string;
  /** A CODE_DEPLOY service: the deployment group it deploys through (src/deploy/codedeploy.ts), as planned. */
  codeDeploy?: CodeDeployPlan;
  /** action `scale`: the new desired count (and the autoscaling range), the task definition unchanged. */
  scale?: ScalePlan;
}

/** Who holds a service's deploy lock. */
export interface DeployLock extends Record<string, unknown> {
  deployId: string;
  userId: string;
  channelId: string;
  threadTs: string;
  startedAt: string;
  commandText: string;
  /** What holds it (absent on locks taken before it was recorded: read from commandText). */
  action?: DeployAction;
}
