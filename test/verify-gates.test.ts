import type { DeploymentConfiguration, Service } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { AwsSession } from '../src/aws/session';
import { DEPLOY_DEFAULTS, type Target } from '../src/config/schema';
import type { PausableStage } from '../src/deploy/strategy';
import { serviceCheck } from '../src/verify/checks/service';
import { VerifyContext } from '../src/verify/context';
import { ok } from '../src/verify/types';

/** The deploy-gates check from a service as DescribeServices shows it (no AWS call needed). */
async function gates(deploymentConfiguration: DeploymentConfiguration | undefined, configured: PausableStage[]) {
  const target: Target = {
    region: 'us-east-1',
    cluster: 'main',
    service: 'web-bg',
    verify: { skip: [], putLogs: false, requiredPermissions: [] },
    deploy: { ...DEPLOY_DEFAULTS, gates: configured },
  };
  const ctx = new VerifyContext('web-bg', target, {} as AwsSession, { putLogs: false, skip: [] });
  const service: Service = { serviceName: 'web-bg', status: 'ACTIVE', ...(deploymentConfiguration ? { deploymentConfiguration } : {}) };
  ctx.service = async () => service;
  const children = await serviceCheck().then!(ctx, ok('service is ACTIVE'));
  const check = children.find((c) => c.id === 'service:gates');
  return check ? check.run(ctx) : undefined;
}

const blueGreen = (hooks: DeploymentConfiguration['lifecycleHooks'] = []): DeploymentConfiguration => ({
  strategy: 'BLUE_GREEN',
  bakeTimeInMinutes: 15,
  lifecycleHooks: hooks,
});

describe('verify: deploy gates', () => {
  it('is no check at all for a rolling service without gates', async () => {
    expect(await gates(undefined, [])).toBeUndefined();
  });

  it('a gate on a stage with its PAUSE hook: OK, saying where people decide', async () => {
    const outcome = await gates(blueGreen([{ targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] }]), ['POST_TEST_TRAFFIC_SHIFT']);
    expect(outcome).toMatchObject({ status: 'OK' });
    expect(outcome!.message).toContain('waits for an approval by reaction at POST_TEST_TRAFFIC_SHIFT');
  });

  it('a gate without its hook fails, with the update-service command that adds it (existing hooks kept)', async () => {
    const lambda = {
      targetType: 'AWS_LAMBDA' as const,
      hookTargetArn: 'arn:aws:lambda:us-east-1:111111111111:function:smoke',
      lifecycleStages: ['POST_SCALE_UP' as const],
    };
    const outcome = await gates(blueGreen([lambda]), ['POST_TEST_TRAFFIC_SHIFT']);
    expect(outcome).toMatchObject({ status: 'FAIL' });
    expect(outcome!.message).toContain('nothing pauses at POST_TEST_TRAFFIC_SHIFT');
    expect(outcome!.fix).toContain('aws ecs update-service --cluster main --service web-bg --deployment-configuration');
    expect(outcome!.fix).toContain('"targetType":"PAUSE","lifecycleStages":["POST_TEST_TRAFFIC_SHIFT"]');
    expect(outcome!.fix).toContain('function:smoke');
  });

  it('gates on a rolling service fail: rolling updates have no stages', async () => {
    const outcome = await gates(undefined, ['POST_TEST_TRAFFIC_SHIFT']);
    expect(outcome).toMatchObject({ status: 'FAIL' });
    expect(outcome!.message).toContain('deploys by rolling update, which has no lifecycle stages to pause at');
  });

  it('a canary without gates: OK, naming the strategy', async () => {
    const outcome = await gates({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 } }, []);
    expect(outcome).toMatchObject({ status: 'OK' });
    expect(outcome!.message).toContain('deploys by canary 10% for 5 min, then 100%; no stage waits for people');
  });
});
