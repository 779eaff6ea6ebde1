import { DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { assumeRoleCredentials, clearCredentialCache, sessionName } from '../src/aws/credentials';
import { AwsSession, KEPT_REQUEST_IDS } from '../src/aws/session';

const TARGET_ROLE = 'arn:aws:iam::222222222222:role/ecs-chatops-target';
const alice = { teamId: 'T0LOCAL', userId: 'U0ALICE', userName: 'alice' };
let aws: AwsEmulator;

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  aws = await startAwsEmulator();
  Object.assign(process.env, aws.endpointEnv());
});
afterAll(async () => {
  await aws.close();
});
beforeEach(() => {
  clearCredentialCache();
  aws.calls.length = 0;
});

const assumeCalls = () => aws.calls.filter((c) => c.service === 'sts' && c.action === 'AssumeRole');

describe('cross-account credentials', () => {
  it('assumes the target role per Slack user, carrying the user in session name, source identity and tags', async () => {
    const credentials = await assumeRoleCredentials(TARGET_ROLE, 'us-east-1', alice)();
    expect(credentials.accessKeyId).toBeTruthy();
    const session = aws.state.sessions(TARGET_ROLE).at(-1)!;
    expect(session.sessionName).toBe('ecs-chatops@U0ALICE');
    expect(session.sourceIdentity).toBe('ecs-chatops@U0ALICE');
    expect(session.sessionTags).toMatchObject({ 'slack-user': 'U0ALICE', 'slack-team': 'T0LOCAL', 'slack-user-name': 'alice' });
  });

  it('caches credentials until shortly before they expire, then assumes again', async () => {
    let now = Date.now();
    const provider = assumeRoleCredentials(TARGET_ROLE, 'us-east-1', alice, () => now);
    const first = await provider();
    await provider();
    expect(assumeCalls()).toHaveLength(1);
    now = first.expiration!.getTime() - 6 * 60_000; // still outside the 5-minute margin
    await provider();
    expect(assumeCalls()).toHaveLength(1);
    now = first.expiration!.getTime() - 4 * 60_000; // inside the margin: refresh
    await provider();
    expect(assumeCalls()).toHaveLength(2);
  });

  it('keeps separate sessions for separate users', async () => {
    await assumeRoleCredentials(TARGET_ROLE, 'us-east-1', alice)();
    await assumeRoleCredentials(TARGET_ROLE, 'us-east-1', { teamId: 'T0LOCAL', userId: 'U0BOB' })();
    expect(
      aws.state
        .sessions(TARGET_ROLE)
        .map((s) => s.sessionName)
        .slice(-2),
    ).toEqual(['ecs-chatops@U0ALICE', 'ecs-chatops@U0BOB']);
  });

  it('makes ECS calls of a target with roleArn as the assumed-role session, and collects request ids', async () => {
    const session = new AwsSession({ region: 'us-east-1', roleArn: TARGET_ROLE }, alice);
    await session.ecs().send(new DescribeClustersCommand({ clusters: ['main'] }));
    const call = aws.calls.find((c) => c.service === 'ecs')!;
    expect(call.identity.arn).toBe('arn:aws:sts::222222222222:assumed-role/ecs-chatops-target/ecs-chatops@U0ALICE');
    expect(session.requestIds).toEqual([call.requestId]);
    session.destroy();
  });

  it('keeps session names within STS limits', () => {
    expect(sessionName({ teamId: 'T', userId: 'U'.repeat(80) })).toHaveLength(64);
    expect(sessionName({ teamId: 'T', userId: 'U0 Ä!' })).toBe('ecs-chatops@U0---');
  });
});

describe('AwsSession', () => {
  it('caps the AWS requests in flight for one job', async () => {
    aws.faults.latency(40);
    try {
      const session = new AwsSession({ region: 'us-east-1' }, alice, 3);
      const ecs = session.ecs();
      const started = Date.now();
      await Promise.all(Array.from({ length: 9 }, () => ecs.send(new DescribeClustersCommand({ clusters: ['main'] }))));
      // 9 requests, 3 at a time, 40 ms each: at least three rounds.
      expect(Date.now() - started).toBeGreaterThanOrEqual(115);
      expect(session.requestIds).toHaveLength(9);
      session.destroy();
    } finally {
      aws.faults.latency(0);
    }
  });
  it('keeps the first and the last 50 request ids for the audit, and counts the ones between', async () => {
    const session = new AwsSession({ region: 'us-east-1' }, alice);
    const ecs = session.ecs();
    const before = aws.calls.length;
    for (let i = 0; i < 130; i++) await ecs.send(new DescribeClustersCommand({ clusters: ['main'] }));
    const ids = aws.calls.slice(before).map((c) => c.requestId);
    expect(ids).toHaveLength(130);
    expect(session.requestIds).toEqual([...ids.slice(0, KEPT_REQUEST_IDS), ...ids.slice(-KEPT_REQUEST_IDS)]);
    expect(session.omittedRequestIds).toBe(30);
    session.destroy();
  });
  it('by default lets 16 through at once, as many checks as verify runs together: its widest wave (14 calls) is not split in two', async () => {
    aws.faults.latency(150);
    try {
      const session = new AwsSession({ region: 'us-east-1' }, alice);
      const ecs = session.ecs();
      const round = async (n: number) => {
        const started = Date.now();
        await Promise.all(Array.from({ length: n }, () => ecs.send(new DescribeClustersCommand({ clusters: ['main'] }))));
        return Date.now() - started;
      };
      await round(1); // the connection and credentials, outside the timing
      // One round of 150 ms, or two.
      expect(await round(16)).toBeLessThan(290);
      expect(await round(17)).toBeGreaterThanOrEqual(295);
      session.destroy();
    } finally {
      aws.faults.latency(0);
    }
  });
});
