/**
 * The emulator's Application Auto Scaling (scalable targets of ECS services), reached through the
 * bot's client (src/aws/application-autoscaling.ts: the AWS SDK's, behind a small interface)
 * and, for the wire format, raw HTTP: shapes, register-or-update, the clamp of desiredCount, errors.
 */
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { autoScalingClient, ecsScalableTarget, findScalableTarget, type AutoScalingApi } from '../src/aws/application-autoscaling';
import { AwsSession } from '../src/aws/session';

let emu: AwsEmulator;
let session: AwsSession;
let api: AutoScalingApi;
let ecs: ECSClient;
const savedEnv = { ...process.env };
const WEB = ecsScalableTarget('main', 'web');

beforeAll(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  process.env = { ...savedEnv, ...emu.endpointEnv() };
  session = new AwsSession({ region: 'us-east-1' }, { teamId: 'T0LOCAL', userId: 'U0ALICE' });
  api = autoScalingClient(session);
  ecs = new ECSClient({ region: 'us-east-1' });
});
afterAll(async () => {
  session?.destroy();
  ecs?.destroy();
  process.env = savedEnv;
  await emu?.close();
});
afterEach(() => emu.faults.clear());

const desiredCount = async (service: string) =>
  (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: [service] }))).services![0]!.desiredCount;

describe('DescribeScalableTargets', () => {
  it('returns the seeded target of web with the documented shape, and none for a service without one', async () => {
    const out = await api.describeScalableTargets({ ServiceNamespace: 'ecs', ResourceIds: [WEB.ResourceId] });
    expect(out.ScalableTargets).toHaveLength(1);
    const target = out.ScalableTargets![0]!;
    expect(target).toMatchObject({
      ServiceNamespace: 'ecs',
      ResourceId: 'service/main/web',
      ScalableDimension: 'ecs:service:DesiredCount',
      MinCapacity: 2,
      MaxCapacity: 6,
      SuspendedState: { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false },
    });
    expect(target.RoleARN).toMatch(/AWSServiceRoleForApplicationAutoScaling_ECSService$/);
    expect(target.ScalableTargetARN).toMatch(/^arn:aws:application-autoscaling:us-east-1:\d{12}:scalable-target\/[0-9a-f]{36}$/);
    expect(typeof target.CreationTime).toBe('number'); // epoch seconds on the wire
    expect(await findScalableTarget(api, 'main', 'broken')).toBeUndefined();
    expect(emu.calls.at(-1)).toMatchObject({ service: 'application-autoscaling', action: 'DescribeScalableTargets', status: 200 });
  });

  it('refuses a request without ServiceNamespace, and a bad NextToken, as AWS does', async () => {
    await expect(api.describeScalableTargets({} as never)).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining("'serviceNamespace'"),
      $metadata: { httpStatusCode: 400 },
    });
    await expect(api.describeScalableTargets({ ServiceNamespace: 'ecs', NextToken: 'nonsense' })).rejects.toMatchObject({ name: 'InvalidNextTokenException' });
    await expect(api.describeScalableTargets({ ServiceNamespace: 'ecs', MaxResults: 51 })).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('answers the raw wire protocol: X-Amz-Target AnyScaleFrontendService, JSON 1.1, __type errors', async () => {
    const res = await fetch(emu.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AnyScaleFrontendService.DescribeScalableTargets',
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/application-autoscaling/aws4_request, SignedHeaders=host, Signature=x',
      },
      body: JSON.stringify({ ServiceNamespace: 'dynamodb' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'ValidationException' });
  });

  it('is refused when IAM denies it (no resource-level permission: evaluated on *)', async () => {
    emu.faults.deny('application-autoscaling:DescribeScalableTargets', { resource: '*' });
    await expect(api.describeScalableTargets({ ServiceNamespace: 'ecs' })).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('RegisterScalableTarget', () => {
  it('updates only the fields given, and brings desiredCount inside the new range', async () => {
    expect(await desiredCount('web')).toBe(2);
    const out = await api.registerScalableTarget({ ...WEB, MinCapacity: 3 });
    const after = await findScalableTarget(api, 'main', 'web');
    expect(out.ScalableTargetARN).toBe(after!.ScalableTargetARN);
    expect(after).toMatchObject({ MinCapacity: 3, MaxCapacity: 6 });
    expect(await desiredCount('web')).toBe(3); // clamped up
    await api.registerScalableTarget({ ...WEB, SuspendedState: { DynamicScalingInSuspended: true } });
    expect((await findScalableTarget(api, 'main', 'web'))!.SuspendedState).toEqual({
      DynamicScalingInSuspended: true,
      DynamicScalingOutSuspended: false,
      ScheduledScalingSuspended: false,
    });
    await api.registerScalableTarget({ ...WEB, MinCapacity: 2, MaxCapacity: 6, SuspendedState: { DynamicScalingInSuspended: false } });
    expect(await desiredCount('web')).toBe(3); // inside the range: unchanged
  });

  it('brings desiredCount down when the new maximum is below it', async () => {
    await api.registerScalableTarget({ ...WEB, MinCapacity: 1, MaxCapacity: 2 });
    expect(await desiredCount('web')).toBe(2);
    await api.registerScalableTarget({ ...WEB, MinCapacity: 2, MaxCapacity: 6 });
    expect(await desiredCount('web')).toBe(2);
  });

  it('needs MinCapacity and MaxCapacity for a new target; registers it and clamps', async () => {
    const manager = ecsScalableTarget('main', 'manager');
    await expect(api.registerScalableTarget({ ...manager, MaxCapacity: 4 })).rejects.toMatchObject({ name: 'ValidationException' });
    expect(await findScalableTarget(api, 'main', 'manager')).toBeUndefined();
    await api.registerScalableTarget({ ...manager, MinCapacity: 0, MaxCapacity: 0 });
    expect(await findScalableTarget(api, 'main', 'manager')).toMatchObject({ MinCapacity: 0, MaxCapacity: 0 });
    expect(await desiredCount('manager')).toBe(0);
  });

  it('refuses Min > Max, a negative capacity, an unknown service and another dimension, changing nothing', async () => {
    const before = await findScalableTarget(api, 'main', 'web');
    await expect(api.registerScalableTarget({ ...WEB, MinCapacity: 7 })).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(/greater than maximum/),
    });
    await expect(api.registerScalableTarget({ ...WEB, MaxCapacity: -1 })).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(api.registerScalableTarget({ ...ecsScalableTarget('main', 'nope'), MinCapacity: 1, MaxCapacity: 2 })).rejects.toMatchObject({
      name: 'ValidationException',
      message: "ECS service doesn't exist: service/main/nope",
    });
    await expect(api.registerScalableTarget({ ...WEB, ScalableDimension: 'ecs:service:Other', MinCapacity: 1, MaxCapacity: 2 })).rejects.toMatchObject({
      name: 'ValidationException',
    });
    expect(await findScalableTarget(api, 'main', 'web')).toEqual(before);
  });

  it('is authorized on the scalable target ARN', async () => {
    const { ScalableTargetARN } = (await findScalableTarget(api, 'main', 'web'))!;
    emu.faults.deny('application-autoscaling:RegisterScalableTarget', { resource: ScalableTargetARN! });
    await expect(api.registerScalableTarget({ ...WEB, MaxCapacity: 8 })).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(ScalableTargetARN!),
    });
  });
});
