/** What the bot calls on CodeDeploy for a CODE_DEPLOY service (src/deploy/codedeploy.ts, src/workflows/deploy-codedeploy.ts). */
export const CODEDEPLOY_ACTIONS = {
  /** The worker's plan: the deployment group found as ecspresso finds it, and whether one of its deployments is under way. */
  plan: [
    'codedeploy:ListApplications',
    'codedeploy:BatchGetApplications',
    'codedeploy:ListDeploymentGroups',
    'codedeploy:BatchGetDeploymentGroups',
    'codedeploy:ListDeployments',
  ],
  /** The deploy workflow: the group read again, the deployment found or created, followed, stopped. */
  workflow: [
    'codedeploy:BatchGetDeploymentGroups',
    'codedeploy:ListDeployments',
    'codedeploy:CreateDeployment',
    'codedeploy:GetDeployment',
    'codedeploy:ListDeploymentTargets',
    'codedeploy:GetDeploymentTarget',
    'codedeploy:StopDeployment',
  ],
};
