import { describe, expect, it } from 'vitest';
import { ECS_DEPLOYMENT_CONFIGS, parseAppSpec } from '../local/aws/codedeploy';
import { appSpec, describeCodeDeploy, trafficWords } from '../src/deploy/codedeploy';

/** The words and the AppSpec of src/deploy/codedeploy.ts, read back as CodeDeploy (the emulator) reads them. */
describe('CodeDeploy plans in words, and their AppSpec', () => {
  it('names how each predefined ECS deployment config shifts traffic; another config is a custom one', () => {
    expect(Object.keys(ECS_DEPLOYMENT_CONFIGS).map((name) => [name, trafficWords(name)])).toEqual([
      ['CodeDeployDefault.ECSAllAtOnce', 'all traffic at once'],
      ['CodeDeployDefault.ECSLinear10PercentEvery1Minutes', 'linear: 10% more every 1 min'],
      ['CodeDeployDefault.ECSLinear10PercentEvery3Minutes', 'linear: 10% more every 3 min'],
      ['CodeDeployDefault.ECSCanary10Percent5Minutes', 'canary 10% for 5 min, then 100%'],
      ['CodeDeployDefault.ECSCanary10Percent15Minutes', 'canary 10% for 15 min, then 100%'],
    ]);
    expect(trafficWords('team-slow-canary')).toBe('a custom deployment configuration');
  });

  it('says when CodeDeploy would not roll back', () => {
    const words = describeCodeDeploy({
      application: 'app',
      deploymentGroup: 'grp',
      deploymentConfig: 'CodeDeployDefault.ECSAllAtOnce',
      autoRollback: false,
      containerName: 'web',
      containerPort: 80,
    });
    expect(words).toBe(
      "CodeDeploy blue/green through deployment group app/grp: CodeDeployDefault.ECSAllAtOnce (all traffic at once); CodeDeploy's auto-rollback on failure off",
    );
  });

  it('writes an AppSpec CodeDeploy reads back: the task definition and the load-balanced container, quoted', () => {
    const td = 'arn:aws:ecs:us-east-1:111111111111:task-definition/legacy:13';
    expect(parseAppSpec(appSpec(td, { containerName: 'app: "x"', containerPort: 8080 }))).toEqual({
      taskDefinition: td,
      containerName: 'app: "x"',
      containerPort: 8080,
    });
  });
});
