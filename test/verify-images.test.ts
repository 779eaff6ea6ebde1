/**
 * The images family (src/verify/checks/images.ts) against the local AWS emulator and a small local
 * container registry: ECR images of the seeded services (and `broken`'s missing tag), another
 * account's registry, the execution role's pull permission simulated as that role, public
 * registries asked anonymously, private registries left unverified, and a prospective deploy.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE } from '../local/aws';
import { imageDigest, VERIFY_SEED } from '../local/aws/seed-verify';
import { putRole, trustPolicy } from '../local/aws/services/iam';
import { startRegistry, type LocalRegistry } from '../local/registry';
import { AwsSession } from '../src/aws/session';
import { REGISTRY_ENDPOINTS_ENV } from '../src/ecs/images';
import { imageChecks } from '../src/verify/checks/images';
import { VerifyContext, type VerifyOptions } from '../src/verify/context';
import { runChecks } from '../src/verify/engine';
import type { CheckResult } from '../src/verify/types';
import { byId, TARGETS, useVerifyHarness } from './support/verify';

const harness = useVerifyHarness({ clockRate: 0 });
const ACCOUNT = VERIFY_SEED.accountId;
const ECR = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const SHARED = VERIFY_SEED.ecr.shared;
const SHARED_ECR = `${SHARED.registryId}.dkr.ecr.${SHARED.region}.amazonaws.com`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

// The local container registry (local/registry) stands in for public.ecr.aws, Docker Hub, ghcr.io and quay.io.
let registry: LocalRegistry;
const savedEndpoints = process.env[REGISTRY_ENDPOINTS_ENV];

beforeAll(async () => {
  registry = await startRegistry();
  registry.putImage('ghcr.io/example/private-app:1', { private: true });
  // A port nothing listens on, for "could not be reached".
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
  const closedPort = (spare.address() as AddressInfo).port;
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  process.env[REGISTRY_ENDPOINTS_ENV] = JSON.stringify({ ...registry.endpoints(), 'registry.down.test': `http://127.0.0.1:${closedPort}` });

  // Roles for the permission cases (the seed's own roles are left as they are).
  const ecsTasks = trustPolicy({ Service: 'ecs-tasks.amazonaws.com' });
  putRole(harness.aws.state, ACCOUNT, 'no-pull-role', { trust: ecsTasks });
  putRole(harness.aws.state, ACCOUNT, 'pull-anything-role', { trust: ecsTasks, attached: [VERIFY_SEED.policies.taskExecution] });
});
afterAll(async () => {
  if (savedEndpoints === undefined) delete process.env[REGISTRY_ENDPOINTS_ENV];
  else process.env[REGISTRY_ENDPOINTS_ENV] = savedEndpoints;
  await registry?.close();
});

const plan = async (ctx: VerifyContext) => imageChecks({ ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! });

/** Runs the images checks for a seeded service, its task definition changed by `change` (as a deploy would). */
async function runChanged(
  alias: string,
  change: (td: TaskDefinition) => TaskDefinition,
  options: Partial<VerifyOptions> = {},
): Promise<Record<string, CheckResult>> {
  const target = TARGETS[alias]!;
  const ctx = new VerifyContext(
    alias,
    target,
    new AwsSession(target, { teamId: 'T0LOCAL', userId: 'U0ALICE' }),
    { putLogs: false, skip: [], ...options },
    change,
  );
  try {
    return byId(await runChecks(await plan(ctx), ctx, { timeoutMs: 10_000 }));
  } finally {
    ctx.aws.destroy();
  }
}

/** Replaces the `app` container's image (and whatever else `extra` says). */
const appImage =
  (image: string, extra: Partial<ContainerDefinition> = {}) =>
  (td: TaskDefinition): TaskDefinition => ({
    ...td,
    containerDefinitions: td.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image, ...extra } : c)),
  });

const callsSince = (n: number) => harness.aws.calls.slice(n);

describe('images: seeded services', () => {
  it('web: the app image is in ECR, the log router on public.ecr.aws, and the execution role may pull', async () => {
    const start = harness.aws.calls.length;
    const r = byId(await harness.run(plan, 'web'));
    expect(Object.keys(r)).toEqual(['image:app', 'image:log-router', 'images:pull']);
    expect(r['image:app']).toMatchObject({
      status: 'OK',
      family: 'images',
      title: `Image \`${SAMPLE.images.web}\``,
      group: ['TaskDefinition', 'Container app'],
    });
    expect(r['image:app']!.message).toMatch(
      new RegExp(
        `^\`web:v1\\.4\\.2\` is in the ECR repository \`web\` \\(account \`${ACCOUNT}\`, us-east-1\\): digest \`${imageDigest(SAMPLE.images.web).slice(0, 19)}…\`, pushed \\d+ min ago, 62\\.3 MB$`,
      ),
    );
    expect(r['image:log-router']).toMatchObject({
      status: 'OK',
      group: ['TaskDefinition', 'Container log-router'],
      message: expect.stringMatching(
        /^`public\.ecr\.aws\/aws-observability\/aws-for-fluent-bit:stable` exists on Amazon ECR Public \(digest `sha256:[0-9a-f]{12}…`, multi-platform\)$/,
      ),
    });
    expect(r['images:pull']).toMatchObject({ status: 'OK', message: 'the execution role `web-execution-role` may get an ECR token and pull from `web`' });

    // The AWS calls beyond the run's shared ECS reads: one DescribeImages, one GetRole, two
    // simulations (the token's resource is `*`, the layer actions' the repository).
    const calls = callsSince(start).filter((c) => c.service !== 'ecs');
    expect(calls.map((c) => c.action).sort()).toEqual(['DescribeImages', 'GetRole', 'SimulatePrincipalPolicy', 'SimulatePrincipalPolicy']);
    expect(calls.find((c) => c.action === 'DescribeImages')!.params).toMatchObject({
      registryId: ACCOUNT,
      repositoryName: 'web',
      imageIds: [{ imageTag: 'v1.4.2' }],
    });
    const sims = calls.filter((c) => c.action === 'SimulatePrincipalPolicy').map((c) => c.params);
    expect(sims).toContainEqual(
      expect.objectContaining({ PolicySourceArn: VERIFY_SEED.roles.webExecution, ActionNames: ['ecr:GetAuthorizationToken'], ResourceArns: ['*'] }),
    );
    expect(sims).toContainEqual(
      expect.objectContaining({
        ActionNames: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        ResourceArns: [VERIFY_SEED.ecr.webRepositoryArn],
      }),
    );
  });

  it('manager: its image and pull permission pass', async () => {
    const r = byId(await harness.run(plan, 'manager'));
    expect(r['image:app']!.status).toBe('OK');
    expect(r['images:pull']!.status).toBe('OK');
  });

  it('broken: the tag does not exist (image-tag-missing), with recent tags and the fix', async () => {
    const problem = VERIFY_SEED.problems.find((p) => p.id === 'image-tag-missing')!;
    const r = byId(await harness.run(plan, 'broken'));
    expect(r['image:app']!.title).toBe(`Image \`${problem.resource}\``);
    expect(r['image:app']).toMatchObject({
      status: 'FAIL',
      message: `the ECR repository \`web\` (account \`${ACCOUNT}\`, us-east-1) has no image tagged \`does-not-exist\`: tasks would stop with CannotPullContainerError. Most recent tags: \`v2-oom\`, \`v2-crash\`, \`v1.5.0\`, \`v1.4.2\`, \`v1.4.1\`.`,
      fix: `Push the tag (\`docker push ${problem.resource}\`), or point the task definition at an image that exists (deploy one: a new revision).`,
    });
    // broken-execution-role has AmazonECSTaskExecutionRolePolicy: pulling is allowed (its trust is the roles family's FAIL).
    expect(r['images:pull']!.status).toBe('OK');
  });
});

describe('images: a prospective deploy', () => {
  it('checks the image the deploy would put in the task definition', async () => {
    const good = await runChanged('web', appImage(`${ECR}/web:v1.5.0`), { image: 'v1.5.0' });
    expect(good['image:app']).toMatchObject({ status: 'OK', title: `Image \`${ECR}/web:v1.5.0\`` });
    const bad = await runChanged('web', appImage(`${ECR}/web:nope`), { image: 'nope' });
    expect(bad['image:app']).toMatchObject({
      status: 'FAIL',
      fix: `Push the tag (\`docker push ${ECR}/web:nope\`) before deploying, or deploy a tag that exists.`,
    });
    expect(bad['image:app']!.message).toContain('has no image tagged `nope`');
    expect(bad['images:pull']!.status).toBe('OK');
  });
});

describe('images: ECR cases', () => {
  it('by digest; and two containers on one image ask ECR once', async () => {
    const digest = imageDigest(SAMPLE.images.web);
    const start = harness.aws.calls.length;
    const r = await runChanged('web', (td) => ({
      ...td,
      containerDefinitions: [
        { name: 'app', image: `${ECR}/web@${digest}` },
        { name: 'worker', image: `${ECR}/web@${digest}` },
      ],
    }));
    expect(r['image:app']).toMatchObject({ status: 'OK', message: expect.stringContaining(`\`web@${digest}\` is in the ECR repository \`web\``) });
    expect(r['image:worker']!.status).toBe('OK');
    const describes = callsSince(start).filter((c) => c.action === 'DescribeImages');
    expect(describes).toHaveLength(1);
    expect(describes[0]!.params.imageIds).toEqual([{ imageDigest: digest }]);
  });

  it('a missing repository is a FAIL with the command that creates it', async () => {
    const r = await runChanged('web', appImage(`${ECR}/api:v1`));
    expect(r['image:app']).toMatchObject({
      status: 'FAIL',
      message: `the ECR repository \`api\` (account \`${ACCOUNT}\`, us-east-1) does not exist, so \`api:v1\` cannot be pulled`,
    });
    expect(r['image:app']!.fix).toContain('`aws ecr create-repository --repository-name api --region us-east-1`, then `docker push');
  });

  it("another account's registry is asked in its own region; a role allowed on * may pull, noting the repository policy", async () => {
    const image = `${SHARED_ECR}/${SHARED.repository}:${SHARED.tag}`;
    const start = harness.aws.calls.length;
    const r = await runChanged('web', (td) => ({ ...appImage(image)(td), executionRoleArn: roleArn('pull-anything-role') }));
    expect(r['image:app']).toMatchObject({
      status: 'OK',
      message: expect.stringContaining(`is in the ECR repository \`shared/base\` (account \`${SHARED.registryId}\`, us-west-2)`),
    });
    const describe = callsSince(start).find((c) => c.action === 'DescribeImages')!;
    expect(describe).toMatchObject({ region: 'us-west-2', params: { registryId: SHARED.registryId, repositoryName: 'shared/base' } });
    expect(r['images:pull']).toMatchObject({
      status: 'OK',
      message: `the execution role \`pull-anything-role\` may get an ECR token and pull from \`shared/base\`; \`shared/base\` (account \`${SHARED.registryId}\`) must also allow the pull in its repository policy`,
    });
  });

  it("another account's repository that does not let this account in is not checked, with its repository policy fix", async () => {
    const r = await runChanged('web', appImage(`${SHARED_ECR}/${VERIFY_SEED.ecr.sharedPrivate.repository}:1`));
    expect(r['image:app']).toMatchObject({
      status: 'WARN',
      unverified: true,
      message: `not checked: the ECR repository \`shared/private\` in account \`${SHARED.registryId}\` (us-west-2) does not let account \`${ACCOUNT}\` look at its images. If its repository policy does not let the execution role pull either, tasks cannot start`,
    });
    expect(r['image:app']!.fix).toContain(`"Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:root"}`);
    expect(r['image:app']!.fix).toContain('aws ecr set-repository-policy --registry-id 222222222222 --repository-name shared/private --region us-west-2');
    // web-execution-role may pull only from `web`: the simulation says so for the other account's repository.
    expect(r['images:pull']).toMatchObject({ status: 'FAIL' });
    expect(r['images:pull']!.message).toContain(`on \`arn:aws:ecr:us-west-2:${SHARED.registryId}:repository/shared/private\``);
  });

  it('an execution role without ECR permissions: FAIL with one policy to add', async () => {
    const r = await runChanged('web', (td) => ({ ...td, executionRoleArn: roleArn('no-pull-role') }));
    expect(r['images:pull']!.status).toBe('FAIL');
    const repo = VERIFY_SEED.ecr.webRepositoryArn;
    expect(r['images:pull']!.message).toBe(
      `the execution role \`no-pull-role\` may not \`ecr:GetAuthorizationToken\` on \`*\`, \`ecr:BatchGetImage\` on \`${repo}\`, \`ecr:GetDownloadUrlForLayer\` on \`${repo}\`, \`ecr:BatchCheckLayerAvailability\` on \`${repo}\`: tasks cannot pull their images`,
    );
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], Resource: repo },
      ],
    };
    expect(r['images:pull']!.fix).toBe(
      `Allow it on the role: \`aws iam put-role-policy --role-name no-pull-role --policy-name ecr-pull --policy-document '${JSON.stringify(policy)}'\` (or attach the AWS managed policy \`AmazonECSTaskExecutionRolePolicy\`). A repository policy naming the role would also do.`,
    );
  });

  it('no execution role, or one that does not exist: the pull check leaves it to the roles family', async () => {
    const none = await runChanged('web', (td) => ({ ...td, executionRoleArn: undefined }));
    expect(none['images:pull']).toMatchObject({ status: 'SKIP', message: 'no execution role: reported by the execution role check' });
    const ghost = await runChanged('web', (td) => ({ ...td, executionRoleArn: roleArn('ghost-role') }));
    expect(ghost['images:pull']).toMatchObject({
      status: 'SKIP',
      message: 'the execution role `ghost-role` does not exist: reported by the execution role check',
    });
  });

  it('what the bot may not do is "could not check" or "not verified as the execution role", never OK', async () => {
    const liftDescribe = harness.aws.faults.deny('ecr:DescribeImages');
    const liftSimulate = harness.aws.faults.deny('iam:SimulatePrincipalPolicy');
    try {
      const r = byId(await harness.run(plan, 'web'));
      expect(r['image:app']).toMatchObject({
        status: 'WARN',
        unverified: true,
        message: `could not check: the bot needs \`ecr:DescribeImages\` on \`${VERIFY_SEED.ecr.webRepositoryArn}\``,
      });
      expect(r['images:pull']).toMatchObject({
        status: 'WARN',
        unverified: true,
        message: expect.stringMatching(/^not verified as the execution role: the bot needs `iam:SimulatePrincipalPolicy`/),
      });
    } finally {
      liftDescribe();
      liftSimulate();
    }
  });

  it('a throttle that clears within the retries is no problem', async () => {
    harness.aws.faults.throttle('ecr:DescribeImages', 2);
    const r = byId(await harness.run(plan, 'web'));
    expect(r['image:app']!.status).toBe('OK');
  });
});

describe('images: other registries', () => {
  it('Docker Hub short names: found, and a missing tag is a FAIL', async () => {
    const before = registry.requests.length;
    const found = await runChanged('web', appImage('nginx:1.27'));
    expect(found['image:app']).toMatchObject({
      status: 'OK',
      message: expect.stringMatching(/^`nginx:1\.27` exists on Docker Hub \(digest `sha256:[0-9a-f]{12}…`, multi-platform\)$/),
    });
    // The registry was asked as a pull asks: HEAD, the anonymous token from the challenge's realm, HEAD again.
    expect(
      registry.requests
        .slice(before)
        .filter((q) => q.host.endsWith('docker.io'))
        .map((q) => `${q.method} ${q.host} ${q.status}`),
    ).toEqual(['HEAD registry-1.docker.io 401', 'GET auth.docker.io 200', 'HEAD registry-1.docker.io 200']);
    // Only public images: no ECR pull check is planned once no container uses ECR.
    const missing = await runChanged('web', (td) => ({ ...td, containerDefinitions: [{ name: 'app', image: 'library/nginx:9.99' }] }));
    expect(Object.keys(missing)).toEqual(['image:app']);
    expect(missing['image:app']).toMatchObject({
      status: 'FAIL',
      message:
        '`nginx:9.99` does not exist on Docker Hub (`docker.io` has no manifest `9.99` in `library/nginx`): tasks would stop with CannotPullContainerError',
      fix: 'Fix the tag or repository of container `app` in the task definition; `docker manifest inspect nginx:9.99` tells whether a reference exists.',
    });
  });

  it('ghcr.io and quay.io images are found; a private repository without credentials is "not checked"', async () => {
    const r = await runChanged('web', (td) => ({
      ...td,
      containerDefinitions: [
        { name: 'sidecar', image: 'ghcr.io/example/sidecar:v1' },
        { name: 'exporter', image: 'quay.io/prometheus/node-exporter:v1.8.2' },
        { name: 'private', image: 'ghcr.io/example/private-app:1' },
      ],
    }));
    expect(r['image:sidecar']).toMatchObject({
      status: 'OK',
      message: expect.stringMatching(/^`ghcr\.io\/example\/sidecar:v1` exists on `ghcr\.io` \(digest `sha256:[0-9a-f]{12}…`\)$/),
    });
    expect(r['image:exporter']).toMatchObject({ status: 'OK', message: expect.stringContaining('exists on `quay.io`') });
    expect(r['image:private']).toMatchObject({
      status: 'WARN',
      unverified: true,
      message:
        '`ghcr.io` refused an anonymous pull of `example/private-app` (HTTP 401)'.replace(/^/, 'not checked: ') +
        '. The repository is private or does not exist; without `repositoryCredentials` tasks cannot pull it',
    });
    expect(r['image:private']!.fix).toContain('`repositoryCredentials.credentialsParameter` of container `private`');
  });

  it('an unreachable registry is "not checked", never OK', async () => {
    const r = await runChanged('web', appImage('registry.down.test/team/app:1'));
    expect(r['image:app']).toMatchObject({
      status: 'WARN',
      unverified: true,
      message: 'not checked: `registry.down.test` could not be reached (connection refused (ECONNREFUSED))',
    });
    expect(r['image:app']!.fix).toContain('docker manifest inspect registry.down.test/team/app:1');
  });

  it('a private registry with repositoryCredentials is not checked, but the execution role must read the credentials', async () => {
    const readable = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:web/registry-AbCdEf`;
    const ok = await runChanged('web', appImage('registry.example.com/team/app:1', { repositoryCredentials: { credentialsParameter: readable } }));
    expect(ok['image:app']).toMatchObject({
      status: 'WARN',
      unverified: true,
      message: `not checked: \`registry.example.com/team/app:1\` is in a private registry (\`registry.example.com\`); the bot does not use its credentials (\`${readable}\`)`,
    });
    const unreadable = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ops/registry-AbCdEf`;
    const denied = await runChanged('web', appImage('registry.example.com/team/app:1', { repositoryCredentials: { credentialsParameter: unreadable } }));
    expect(denied['image:app']).toMatchObject({
      status: 'FAIL',
      message: `the execution role \`web-execution-role\` may not \`secretsmanager:GetSecretValue\` on \`${unreadable}\`, the credentials for \`registry.example.com/team/app:1\`: tasks cannot pull it`,
    });
  });

  it('an image reference ECS would reject is a FAIL', async () => {
    const r = await runChanged('web', appImage('Web:v1'));
    expect(r['image:app']).toMatchObject({
      status: 'FAIL',
      message: '`Web:v1` is not a valid image reference: `Web` in the repository name: repository names must be lower-case',
      fix: 'Fix `image` of container `app` in the task definition.',
    });
  });
});
