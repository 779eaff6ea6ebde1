/**
 * The secrets family of `/ecs verify` against the local AWS emulator: seeded `web` and `manager`
 * pass; `broken` fails with the three secret problems of VERIFY_SEED.problems, each with its own
 * message and fix; values are never read; lookups are batched and memoized; and a check the bot
 * cannot carry out says what it needs instead of passing.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { afterEach, describe, expect, it } from 'vitest';
import { SAMPLE } from '../local/aws';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { kmsState } from '../local/aws/services/kms';
import { secretsState } from '../local/aws/services/secretsmanager';
import { keyPolicyMayAllow, parse, secretChecks } from '../src/verify/checks/secrets';
import type { VerifyContext } from '../src/verify/context';
import type { CheckResult } from '../src/verify/types';
import { byId, useVerifyHarness } from './support/verify';

const harness = useVerifyHarness();
const V = VERIFY_SEED;
const problem = (id: string) => V.problems.find((p) => p.id === id)!;
const regionState = () => harness.aws.state.region(V.accountId, V.region);

afterEach(() => harness.aws.faults.clear());

/** The secrets checks of the target's own task definition, optionally changed. */
const plan = (change?: (td: TaskDefinition) => TaskDefinition) => async (ctx: VerifyContext) => {
  const td = await ctx.taskDefinition();
  return secretChecks({ ctx, taskDefinition: change ? change(structuredClone(td)) : td, service: (await ctx.service())! });
};
const withApp = (app: Partial<ContainerDefinition>, executionRoleArn?: string | null) => (td: TaskDefinition) => ({
  ...td,
  ...(executionRoleArn !== undefined ? { executionRoleArn: executionRoleArn ?? undefined } : {}),
  containerDefinitions: td.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, ...app } : c)),
});
const secrets = (entries: Record<string, string>) => ({ secrets: Object.entries(entries).map(([name, valueFrom]) => ({ name, valueFrom })) });
/** Calls made while `run` ran. */
async function recording<T>(run: () => Promise<T>): Promise<{ result: T; calls: typeof harness.aws.calls }> {
  const start = harness.aws.calls.length;
  const result = await run();
  return { result, calls: harness.aws.calls.slice(start) };
}
const statuses = (results: CheckResult[]) => results.map((r) => [r.id, r.status]);

describe('secrets checks: the seeded services', () => {
  it('web passes: parameter, secret, access and the customer managed key; nothing is read', async () => {
    const { result, calls } = await recording(() => harness.run(plan(), 'web'));
    expect(statuses(result)).toEqual([
      ['secret:app:DATABASE_URL', 'OK'],
      ['secret:app:DATABASE_URL:access', 'OK'],
      ['secret:app:API_KEY', 'OK'],
      ['secret:app:API_KEY:access', 'OK'],
      ['secret:app:API_KEY:kms', 'OK'],
    ]);
    const r = byId(result);
    expect(r['secret:app:DATABASE_URL']).toMatchObject({ group: ['TaskDefinition', 'Container app'], title: 'Secret `DATABASE_URL`' });
    expect(r['secret:app:DATABASE_URL']!.message).toBe(
      'parameter `/web/DATABASE_URL` exists in Parameter Store (us-east-1): SecureString, encrypted with the AWS managed key `alias/aws/ssm`',
    );
    expect(r['secret:app:API_KEY']!.message).toContain('secret `web/api-key` exists in Secrets Manager (us-east-1) with its AWSCURRENT version');
    expect(r['secret:app:API_KEY:access']!.message).toBe(
      `the execution role \`web-execution-role\` may \`secretsmanager:GetSecretValue\` on \`${V.secrets.webApiKey}\``,
    );
    expect(r['secret:app:API_KEY:kms']!.message).toContain('may `kms:Decrypt`');
    expect(r['secret:app:API_KEY:kms']!.message).toContain('through secretsmanager');

    // Metadata only: no value is ever fetched, and none appears in any result.
    expect(calls.map((c) => c.action)).not.toContain('GetSecretValue');
    expect(calls.map((c) => c.action).filter((a) => /^GetParameters?$/.test(a))).toEqual([]);
    const text = JSON.stringify(result);
    for (const value of ['postgres://', 'web-api-key-v']) expect(text).not.toContain(value);

    // One call per lookup.
    const count = (action: string) => calls.filter((c) => c.action === action).length;
    expect([count('DescribeParameters'), count('DescribeSecret'), count('DescribeKey'), count('GetKeyPolicy')]).toEqual([1, 1, 1, 1]);
    // The KMS simulation is done as the execution role, through Secrets Manager; the key policy is
    // read (GetKeyPolicy above) and judged on its own, since IAM's simulator does not apply KMS's rule.
    const kmsSimulation = calls.find((c) => c.action === 'SimulatePrincipalPolicy' && JSON.stringify(c.params).includes('kms:Decrypt'))!;
    expect(JSON.stringify(kmsSimulation.params)).toContain('secretsmanager.us-east-1.amazonaws.com');
    expect(kmsSimulation.params.ResourcePolicy).toBeUndefined();
  });

  it('manager passes; the AWS managed key needs no KMS check', async () => {
    expect(statuses(await harness.run(plan(), 'manager'))).toEqual([
      ['secret:app:DATABASE_URL', 'OK'],
      ['secret:app:DATABASE_URL:access', 'OK'],
    ]);
  });

  it('broken: secret-missing, secret-not-permitted and kms-key-policy-denies each FAIL with their own message and fix', async () => {
    const r = byId(await harness.run(plan(), 'broken'));

    const missing = r['secret:app:API_KEY']!;
    expect(missing.status).toBe('FAIL');
    expect(missing.message).toContain(`secret \`${problem('secret-missing').resource}\` no longer exists`);
    expect(missing.message).toContain(`was deleted and recreated as \`${V.secrets.brokenApiKeyRecreated}\``);
    expect(missing.fix).toBe(
      `Change the \`valueFrom\` of \`API_KEY\` in container \`app\` to \`${V.secrets.brokenApiKeyRecreated}\` and register a new task definition revision.`,
    );

    const notPermitted = r['secret:app:API_KEY:access']!;
    expect(notPermitted.status).toBe('FAIL');
    expect(notPermitted.message).toContain('the execution role `broken-execution-role` may not `secretsmanager:GetSecretValue`');
    expect(notPermitted.message).toContain('ECS cannot fetch `API_KEY`');
    // The grant AWS recommends: the name with any suffix, so it survives the secret being recreated.
    expect(notPermitted.fix).toContain('aws iam put-role-policy --role-name broken-execution-role');
    expect(notPermitted.fix).toContain('"Resource":["arn:aws:secretsmanager:us-east-1:111111111111:secret:broken/api-key-??????"]');

    expect(r['secret:app:DATABASE_URL']).toMatchObject({ status: 'OK' });
    expect(r['secret:app:DATABASE_URL']!.message).toContain('encrypted with the KMS key `alias/broken-secrets`');
    expect(r['secret:app:DATABASE_URL:access']).toMatchObject({ status: 'OK' });
    const keyPolicy = r['secret:app:DATABASE_URL:kms']!;
    expect(keyPolicy.status).toBe('FAIL');
    expect(keyPolicy.message).toContain(
      `the key policy of \`alias/broken-secrets\` (\`${problem('kms-key-policy-denies').resource}\`) does not let the execution role \`broken-execution-role\` decrypt`,
    );
    expect(keyPolicy.message).toContain('neither names the role nor lets the account’s IAM policies grant access');
    expect(keyPolicy.fix).toContain('"Principal":{"AWS":"arn:aws:iam::111111111111:role/broken-execution-role"}');
    expect(keyPolicy.fix).toContain('"kms:ViaService":"ssm.us-east-1.amazonaws.com"');
    expect(keyPolicy.fix).toContain(`aws kms put-key-policy --key-id ${V.kms.brokenSecretsKeyArn} --policy-name default --policy file://key-policy.json`);

    // The three are distinct problems with distinct fixes.
    expect(new Set([missing.fix, notPermitted.fix, keyPolicy.fix]).size).toBe(3);
  });
});

describe('secrets checks: references', () => {
  it('parses what ECS accepts', () => {
    expect(parse({ source: 'secrets', valueFrom: '/web/DATABASE_URL' }, 'us-east-1', 'aws')).toMatchObject({
      store: 'ssm',
      region: 'us-east-1',
      names: ['/web/DATABASE_URL'],
    });
    expect(parse({ source: 'secrets', valueFrom: 'arn:aws:ssm:eu-west-1:111111111111:parameter/plain' }, 'us-east-1', 'aws')).toMatchObject({
      store: 'ssm',
      region: 'eu-west-1',
      account: '111111111111',
      names: ['plain', '/plain'],
    });
    expect(parse({ source: 'secrets', valueFrom: `${V.secrets.webApiKey}:password:AWSPREVIOUS:` }, 'us-east-1', 'aws')).toMatchObject({
      store: 'secretsmanager',
      secretId: V.secrets.webApiKey,
      name: 'web/api-key',
      fullArn: true,
      jsonKey: 'password',
      versionStage: 'AWSPREVIOUS',
    });
    expect(parse({ source: 'secrets', valueFrom: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:web/api' }, 'us-east-1', 'aws')).toMatchObject({
      fullArn: false,
      name: 'web/api',
    });
    expect(parse({ source: 'registry', valueFrom: 'dockerhub' }, 'us-east-1', 'aws')).toMatchObject({
      store: 'secretsmanager',
      secretId: 'dockerhub',
      fullArn: false,
    });
    expect(parse({ source: 'secrets', valueFrom: 'arn:aws:s3:::bucket/key' }, 'us-east-1', 'aws')).toBeUndefined();
  });

  it('parameters of one region are looked up in one call; a missing one FAILs with put-parameter', async () => {
    const { result, calls } = await recording(() =>
      harness.run(
        plan((td) => ({
          ...withApp(
            secrets({
              DATABASE_URL: '/web/DATABASE_URL',
              TOKEN: `arn:aws:ssm:us-east-1:${V.accountId}:parameter/ecs-chatops/slack/bot-token`,
              MISSING: '/web/NOPE',
            }),
          )(td),
          executionRoleArn: V.roles.keyAdmin,
        })),
        'web',
      ),
    );
    const describes = calls.filter((c) => c.action === 'DescribeParameters');
    expect(describes).toHaveLength(1);
    expect(JSON.stringify(describes[0]!.params)).toContain('/web/NOPE');
    const r = byId(result);
    expect(r['secret:app:TOKEN']!.status).toBe('OK');
    expect(r['secret:app:MISSING']).toMatchObject({ status: 'FAIL' });
    expect(r['secret:app:MISSING']!.message).toContain('parameter `/web/NOPE` does not exist in Parameter Store in us-east-1');
    expect(r['secret:app:MISSING']!.fix).toBe(
      "Create it: `aws ssm put-parameter --name /web/NOPE --type SecureString --value '…' --region us-east-1`, or correct the `valueFrom` of `MISSING`.",
    );
    // The permission is checked on the ARN ECS would ask for, whether or not it exists yet.
    expect(r['secret:app:MISSING:access']!.message).toContain(`parameter/web/NOPE`);
  });

  it('version stages and ids of a secret are checked; the JSON key is not read', async () => {
    const previous = byId(await harness.run(plan(withApp(secrets({ OLD: `${V.secrets.webApiKey}:token:AWSPREVIOUS:` }))), 'web'))['secret:app:OLD']!;
    expect(previous.status).toBe('OK');
    expect(previous.message).toContain('with the version labelled `AWSPREVIOUS`');
    expect(previous.message).toContain('the JSON key `token` is not checked (that would mean reading the value)');

    const pending = byId(await harness.run(plan(withApp(secrets({ NEXT: `${V.secrets.webApiKey}::AWSPENDING:` }))), 'web'))['secret:app:NEXT']!;
    expect(pending.status).toBe('FAIL');
    expect(pending.message).toContain('no version of secret `web/api-key` is labelled `AWSPENDING`');
    expect(pending.fix).toContain('(AWSCURRENT)');

    const unknownId = byId(await harness.run(plan(withApp(secrets({ PINNED: `${V.secrets.webApiKey}:::00000000-0000-0000-0000-000000000000` }))), 'web'))[
      'secret:app:PINNED'
    ]!;
    expect(unknownId.status).toBe('FAIL');
    expect(unknownId.message).toContain('has no version `00000000-0000-0000-0000-000000000000`');
  });

  it('registry credentials by name and log driver secrets are checked too', async () => {
    const r = byId(
      await harness.run(
        plan(
          withApp({
            repositoryCredentials: { credentialsParameter: 'web/api-key' },
            logConfiguration: { logDriver: 'splunk', options: {}, secretOptions: [{ name: 'splunk-token', valueFrom: '/web/DATABASE_URL' }] },
          }),
        ),
        'web',
      ),
    );
    expect(r['secret:app:repositoryCredentials']).toMatchObject({ status: 'OK', title: 'Registry credentials' });
    expect(r['secret:app:repositoryCredentials']!.message).toContain(`(referenced by name: \`${V.secrets.webApiKey}\`)`);
    expect(r['secret:app:repositoryCredentials:access']!.status).toBe('OK');
    expect(r['secret:app:log:splunk-token']).toMatchObject({ status: 'OK', title: 'Log option `splunk-token`' });
  });

  it('a secret scheduled for deletion and a disabled key FAIL with how to undo them', async () => {
    const secret = secretsState(regionState()).get('web/api-key')!;
    const key = kmsState(regionState()).keys.get(V.kms.webSecretsKeyArn.split('/').pop()!)!;
    secret.deletedDate = new Date(Date.now() + 7 * 86_400_000);
    try {
      const r = byId(await harness.run(plan(), 'web'));
      expect(r['secret:app:API_KEY']).toMatchObject({ status: 'FAIL' });
      expect(r['secret:app:API_KEY']!.fix).toBe(`Restore it: \`aws secretsmanager restore-secret --secret-id ${V.secrets.webApiKey} --region us-east-1\`.`);
    } finally {
      delete secret.deletedDate;
    }
    key.metadata.KeyState = 'Disabled';
    try {
      const kms = byId(await harness.run(plan(), 'web'))['secret:app:API_KEY:kms']!;
      expect(kms.status).toBe('FAIL');
      expect(kms.message).toContain('is Disabled: the value cannot be decrypted');
      expect(kms.fix).toBe(`Enable it: \`aws kms enable-key --key-id ${V.kms.webSecretsKeyArn}\`.`);
    } finally {
      key.metadata.KeyState = 'Enabled';
    }
  });

  it('no secrets at all is a SKIP; an unreadable reference and a missing execution role FAIL', async () => {
    expect(statuses(await harness.run(plan(withApp({ secrets: [] })), 'web'))).toEqual([['secrets', 'SKIP']]);
    const r = byId(await harness.run(plan(withApp(secrets({ ODD: 'arn:aws:s3:::bucket/key', DATABASE_URL: '/web/DATABASE_URL' }), null)), 'web'));
    expect(r['secret:app:ODD']).toMatchObject({ status: 'FAIL' });
    expect(r['secret:app:ODD']!.message).toContain('neither a Parameter Store parameter nor a Secrets Manager secret');
    expect(r['secret:app:DATABASE_URL:access']).toMatchObject({ status: 'FAIL' });
    expect(r['secret:app:DATABASE_URL:access']!.message).toBe('the task definition has no execution role, which ECS needs to fetch `DATABASE_URL`');
  });
});

describe('secrets checks: KMS, role side vs key-policy side', () => {
  it('a role without kms:Decrypt FAILs with the role statement (the key policy is fine)', async () => {
    // legacy-execution-role has only the AWS managed execution policy: no Secrets Manager, no KMS.
    const r = byId(await harness.run(plan(withApp({}, 'arn:aws:iam::111111111111:role/legacy-execution-role')), 'web'));
    expect(r['secret:app:API_KEY:access']).toMatchObject({ status: 'FAIL' });
    const kms = r['secret:app:API_KEY:kms']!;
    expect(kms.status).toBe('FAIL');
    expect(kms.message).toContain('the execution role `legacy-execution-role` may not `kms:Decrypt` with');
    expect(kms.message).not.toContain('key policy');
    expect(kms.fix).toContain('aws iam put-role-policy --role-name legacy-execution-role');
    expect(kms.fix).toContain(
      `"Resource":"${V.kms.webSecretsKeyArn}","Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}`,
    );
    expect(kms.fix).not.toContain('put-key-policy');
  });

  it('reads the key policy too, in case the simulator lets an identity allow through', () => {
    const root = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'kms:*', Resource: '*' }] });
    const admins = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: { AWS: V.roles.keyAdmin }, Action: ['kms:Describe*', 'kms:Put*'], Resource: '*' }],
    });
    const role = V.roles.brokenExecution;
    expect(keyPolicyMayAllow(root, role, '111111111111')).toBe(true);
    expect(keyPolicyMayAllow(admins, role, '111111111111')).toBe(false);
    expect(keyPolicyMayAllow(JSON.stringify({ Statement: { Effect: 'Allow', Principal: { AWS: role }, Action: 'kms:Decrypt' } }), role, '111111111111')).toBe(
      true,
    );
    expect(keyPolicyMayAllow('not json', role, '111111111111')).toBe(true);
  });
});

describe('secrets checks: when the bot cannot check', () => {
  it('a denied DescribeParameters is a WARN naming it; the access check still runs', async () => {
    harness.aws.faults.deny('ssm:DescribeParameters');
    const r = byId(await harness.run(plan(), 'manager'));
    expect(r['secret:app:DATABASE_URL']).toMatchObject({ status: 'WARN', unverified: true });
    expect(r['secret:app:DATABASE_URL']!.message).toContain('the bot needs `ssm:DescribeParameters`');
    expect(r['secret:app:DATABASE_URL:access']!.status).toBe('OK');
  });

  it('a denied GetKeyPolicy leaves the KMS check unverified, not OK', async () => {
    harness.aws.faults.deny('kms:GetKeyPolicy');
    const kms = byId(await harness.run(plan(), 'web'))['secret:app:API_KEY:kms']!;
    expect(kms).toMatchObject({ status: 'WARN', unverified: true });
    expect(kms.message).toContain('the bot needs `kms:GetKeyPolicy`');
  });

  it('no policy simulation: "not verified as the execution role"', async () => {
    harness.aws.faults.deny('iam:SimulatePrincipalPolicy');
    const results = await harness.run(plan(), 'web');
    const r = byId(results);
    for (const id of ['secret:app:DATABASE_URL:access', 'secret:app:API_KEY:access', 'secret:app:API_KEY:kms']) {
      expect(r[id], id).toMatchObject({ status: 'WARN', unverified: true });
      expect(r[id]!.message, id).toContain('not verified as the execution role');
    }
    expect(results.filter((x) => x.status === 'OK').map((x) => x.id)).toEqual(['secret:app:DATABASE_URL', 'secret:app:API_KEY']);
  });

  it('the seed agrees with what the checks assume', () => {
    expect(SAMPLE.secrets.brokenApiKey).toBe(problem('secret-missing').resource);
  });
});
