/**
 * Grants the suite never exercises, each with why it is still right to grant. An id is what the
 * coverage report prints for the finding (`<function> <Sid> <action or resource>`). An exception
 * that no longer matches a finding fails the run (it would hide a future one), unless it is marked
 * `raced`: used in some runs and not in others, for a reason of the local world's own.
 */
export interface CoverageException {
  id: string;
  reason: string;
  /** Whether the grant is used depends on an ordering the local world does not fix (see its reason). */
  raced?: true;
}

const ROLLBACK_WITHOUT_HISTORY =
  'A rollback of a service with no successful deploy in the bot’s own history lists the family’s active revisions (src/deploy/plan.ts, previousRevision); every rollback in the suite has history, and ListTaskDefinitions supports no resource-level permission.';
const ROLLBACK_WITHOUT_HISTORY_RACED = `${ROLLBACK_WITHOUT_HISTORY} Except a notification's Rollback button, which the suite clicks in worlds of their own: whether that world has a deploy in its history by then depends on which tests share it and their order, so some runs list revisions as the worker and some do not.`;
const STATE_PAGED =
  'The durable SDK reads an execution’s state (GetDurableExecutionState) only when the state handed to an invocation is paged (NextMarker); the suite’s executions are small enough to arrive whole.';
const DECISION_BEFORE_CALLBACK =
  'A workflow completes its own approval callback only when the decision was stored before the callback existed (a reaction racing the request’s post; src/approval/callback.ts); the worker completes it in every other case, and the suite never loses that race.';
const DECISION_OR_CANCEL_BEFORE_CALLBACK = `${DECISION_BEFORE_CALLBACK} The run workflow also completes its own wake callback when a cancel was stored before the wait's callback id was recorded (src/workflows/run-wake.ts, arm-N): whether a suite's cancel lands in that gap depends on real timing, so some runs use the grant and some do not.`;
const SHARED_SECRETS_CACHE =
  'The deploy workflow reads the Slack secrets on its cold start in AWS (src/handlers/deploy-workflow.ts, deps.slack). In the local world one process plays every function and shares the once-per-cold-start cache, so whether the worker or the deploy workflow reads first after the workflow’s cold start is a race.';

export const IAM_COVERAGE_EXCEPTIONS: CoverageException[] = [
  { id: 'worker DeployPlanUnscopable ecs:ListTaskDefinitions', reason: ROLLBACK_WITHOUT_HISTORY_RACED, raced: true },
  { id: 'worker DeployPlanUnscopable *', reason: ROLLBACK_WITHOUT_HISTORY_RACED, raced: true },
  { id: 'target role DeployEcsUnscopable ecs:ListTaskDefinitions', reason: ROLLBACK_WITHOUT_HISTORY },
  { id: 'target role DeployEcsUnscopable *', reason: ROLLBACK_WITHOUT_HISTORY },
  { id: 'runWorkflow DurableExecution lambda:GetDurableExecutionState', reason: STATE_PAGED },
  { id: 'deployWorkflow DurableExecution lambda:GetDurableExecutionState', reason: STATE_PAGED },
  { id: 'runWorkflow OwnApprovalCallback lambda:SendDurableExecutionCallbackSuccess', reason: DECISION_OR_CANCEL_BEFORE_CALLBACK, raced: true },
  {
    id: 'runWorkflow OwnApprovalCallback arn:aws:lambda:us-east-1:111111111111:function:ecs-chatops-local-run-workflow:*/durable-execution/*',
    reason: DECISION_OR_CANCEL_BEFORE_CALLBACK,
    raced: true,
  },
  { id: 'deployWorkflow OwnApprovalCallback lambda:SendDurableExecutionCallbackSuccess', reason: DECISION_BEFORE_CALLBACK },
  {
    id: 'deployWorkflow OwnApprovalCallback arn:aws:lambda:us-east-1:111111111111:function:ecs-chatops-local-deploy-workflow:*/durable-execution/*',
    reason: DECISION_BEFORE_CALLBACK,
  },
  ...[
    'deployWorkflow SlackSecrets ssm:GetParameters',
    'deployWorkflow SlackSecrets arn:aws:ssm:us-east-1:111111111111:parameter/ecs-chatops/slack/signing-secret',
    'deployWorkflow SlackSecrets arn:aws:ssm:us-east-1:111111111111:parameter/ecs-chatops/slack/bot-token',
    'deployWorkflow SlackSecretsDecrypt kms:Decrypt',
    'deployWorkflow SlackSecretsDecrypt arn:aws:kms:us-east-1:111111111111:key/*',
  ].map((id) => ({ id, reason: SHARED_SECRETS_CACHE, raced: true as const })),
];
