/**
 * Images: every container's image exists where the task will pull it from, and the execution
 * role may pull from the Amazon ECR repositories involved.
 *
 *  - private ECR: DescribeImages in the registry's own account and region (a cross-account image
 *    is asked of that registry), by digest when the reference has one, else by tag;
 *  - public registries (Docker Hub, public.ecr.aws, ghcr.io, quay.io, any v2 registry): the
 *    registry API, anonymously, as a pull would start; no answer is a WARN "not checked", never OK;
 *  - private registries with `repositoryCredentials`: not checked (the bot never reads those
 *    credentials), but the execution role must be able to read them;
 *  - one check for the whole task definition that the execution role may pull: simulated as that
 *    role, ecr:GetAuthorizationToken on `*` and the three layer actions on each repository.
 */
import type { ContainerDefinition, Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { DescribeImagesCommand, ECRClient, type ImageDetail, type ImageIdentifier } from '@aws-sdk/client-ecr';
import { roleName } from '../../aws/arn';
import { recentTags as recentEcrTags } from '../../ecs/ecr';
import {
  formatImageRef,
  ImageReferenceError,
  manifestReference,
  parseImageRef,
  probeManifest,
  shortImageName,
  tryParseImageRef,
  type ImageRef,
  type ManifestProbe,
} from '../../ecs/images';
import type { SimulationDenial, VerifyContext } from '../context';
import { describeCheckError } from '../errors';
import { checkPermission, describeDenials, fixFor } from '../permissions';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, unverified } from '../types';
import { listWords, marks } from '../text';

/** What pulling an ECR image takes, besides ecr:GetAuthorizationToken (whose resource is always `*`). */
const ECR_PULL_ACTIONS = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
/** Registry API requests are short: an unreachable registry must not hold the run up. */
const REGISTRY_TIMEOUT_MS = 3_000;

export const imageChecks: Planner = ({ taskDefinition, service }) => {
  const containers = taskDefinition.containerDefinitions ?? [];
  const specs = containers.map((c) => imageCheck(c, taskDefinition));
  const ecr = uniqueBy(
    containers.flatMap((c) => {
      const ref = c.image ? tryParseImageRef(c.image) : undefined;
      return ref?.ecr ? [ref] : [];
    }),
    (r) => r.ecr!.repositoryArn,
  );
  if (ecr.length) specs.push(pullPermissionCheck(ecr, taskDefinition, service));
  return specs;
};

function imageCheck(container: ContainerDefinition, td: TaskDefinition): CheckSpec {
  const name = container.name ?? '?';
  return {
    id: `image:${name}`,
    family: 'images',
    title: container.image ? `Image \`${container.image}\`` : 'Image',
    group: ['TaskDefinition', `Container ${name}`],
    async run(ctx) {
      if (!container.image) return fail(`container \`${name}\` has no image`, `Set \`image\` of container \`${name}\` in the task definition.`);
      let ref: ImageRef;
      try {
        ref = parseImageRef(container.image);
      } catch (error) {
        if (!(error instanceof ImageReferenceError)) throw error;
        return fail(
          error.message,
          `Fix \`image\` of container \`${name}\` in the task definition${ctx.options.image ? ' (or the image given to the deploy)' : ''}.`,
        );
      }
      if (ref.ecr) return ecrImage(ctx, ref);
      const credentials = container.repositoryCredentials?.credentialsParameter;
      if (credentials) return privateRegistryImage(ctx, ref, credentials, td);
      return registryImage(ctx, ref, name);
    },
  };
}

// Amazon ECR -------------------------------------------------------------------------------------

async function ecrImage(ctx: VerifyContext, ref: ImageRef): Promise<CheckOutcome> {
  const { registryId, region } = ref.ecr!;
  const where = `ECR repository \`${ref.repository}\` (account \`${registryId}\`, ${region})`;
  // The digest is what gets pulled when there is one, whatever the tag says.
  const imageId: ImageIdentifier = ref.digest ? { imageDigest: ref.digest } : { imageTag: ref.tag ?? 'latest' };
  let image: ImageDetail | undefined;
  try {
    image = await ctx.once(`ecr:image:${registryId}:${region}:${ref.repository}@${manifestReference(ref)}`, async () => {
      const out = await ctx.aws.client(ECRClient, region).send(new DescribeImagesCommand({ registryId, repositoryName: ref.repository, imageIds: [imageId] }));
      return out.imageDetails?.[0];
    });
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name === 'ImageNotFoundException') return missingImage(ctx, ref, where);
    if (e.name === 'RepositoryNotFoundException') {
      return fail(
        `the ${where} does not exist, so \`${shortImageName(ref)}\` cannot be pulled`,
        `Create it and push the image (\`aws ecr create-repository --repository-name ${ref.repository} --region ${region}${registryId !== (await ctx.accountId()) ? ` --registry-id ${registryId}` : ''}\`, then \`docker push ${ref.raw}\`), or ${pointElsewhere(ctx)}.`,
      );
    }
    const crossAccount = await crossAccountDenial(ctx, ref, e);
    if (crossAccount) return crossAccount;
    throw error; // the bot's own permissions: the engine says which one it needs
  }
  if (!image) return missingImage(ctx, ref, where);
  return ok(`\`${shortImageName(ref)}\` is in the ${where}: ${describeImage(image, ref)}`);
}

function describeImage(image: ImageDetail, ref: ImageRef): string {
  const parts = [`digest \`${shortDigest(image.imageDigest)}\``];
  if (image.imagePushedAt) parts.push(`pushed ${ago(image.imagePushedAt)}`);
  if (image.imageSizeInBytes) parts.push(`${(image.imageSizeInBytes / 1_000_000).toFixed(1)} MB`);
  // `repo:tag@digest` pulls the digest: say so when the tag has moved on.
  if (ref.digest && ref.tag && !image.imageTags?.includes(ref.tag))
    parts.push(`the tag \`${ref.tag}\` now points elsewhere, but the digest is what gets pulled`);
  return parts.join(', ');
}

async function missingImage(ctx: VerifyContext, ref: ImageRef, where: string): Promise<CheckOutcome> {
  const recent = await recentTags(ctx, ref);
  const what = ref.digest ? `no image with digest \`${shortDigest(ref.digest)}\`` : `no image tagged \`${ref.tag ?? 'latest'}\``;
  const tags = recent.length ? ` Most recent tags: ${marks(recent)}.` : '';
  const push = ref.digest ? 'Push the image that has this digest' : `Push the tag (\`docker push ${ref.raw}\`)`;
  return fail(
    `the ${where} has ${what}: tasks would stop with CannotPullContainerError.${tags}`,
    ctx.options.image ? `${push} before deploying, or deploy a tag that exists.` : `${push}, or ${pointElsewhere(ctx)}.`,
  );
}

const pointElsewhere = (ctx: VerifyContext) =>
  ctx.options.image ? 'deploy an image that exists' : 'point the task definition at an image that exists (deploy one: a new revision)';

/** The repository's latest tags, to suggest one (src/ecs/ecr.ts), asked once per verify. */
async function recentTags(ctx: VerifyContext, ref: ImageRef): Promise<string[]> {
  const { registryId, region } = ref.ecr!;
  return ctx.once(`ecr:recent:${registryId}:${region}:${ref.repository}`, () => recentEcrTags(ctx.aws.client(ECRClient, region), registryId, ref.repository));
}

/**
 * Another account's repository whose policy does not let this account read it. The pull may still
 * be allowed (a policy can grant pulls but not DescribeImages), so this is "not checked", with the
 * repository policy statement the other account would add.
 */
async function crossAccountDenial(ctx: VerifyContext, ref: ImageRef, e: { name?: string; message?: string }): Promise<CheckOutcome | undefined> {
  const { registryId, region, repositoryArn } = ref.ecr!;
  const account = await ctx.accountId();
  const denied = /AccessDenied/i.test(e.name ?? '') || /not authorized to perform/i.test(e.message ?? '');
  // "because no identity-based policy allows" is the bot's own IAM: let the engine name the permission.
  if (registryId === account || !denied || /identity-based policy/i.test(e.message ?? '')) return undefined;
  const statement = {
    Sid: `AllowPullFrom${account}`,
    Effect: 'Allow',
    Principal: { AWS: `arn:${ref.ecr!.partition}:iam::${account}:root` },
    Action: [...ECR_PULL_ACTIONS, 'ecr:DescribeImages'],
  };
  return unverified(
    `not checked: the ECR repository \`${ref.repository}\` in account \`${registryId}\` (${region}) does not let account \`${account}\` look at its images. If its repository policy does not let the execution role pull either, tasks cannot start`,
    `In account \`${registryId}\`, add to the repository policy of \`${ref.repository}\` (${repositoryArn}): \`${JSON.stringify(statement)}\` — \`aws ecr set-repository-policy --registry-id ${registryId} --repository-name ${ref.repository} --region ${region} --policy-text file://policy.json\` replaces the whole policy, so merge it with the statements already there.`,
  );
}

// Pull permission ----------------------------------------------------------------------------------

function pullPermissionCheck(refs: ImageRef[], td: TaskDefinition, service: Service | undefined): CheckSpec {
  const repositories = refs.map((r) => r.ecr!.repositoryArn);
  const names = listWords(uniqueBy(refs, (r) => r.repository).map((r) => `\`${r.repository}\``));
  return {
    id: 'images:pull',
    family: 'images',
    title: `Execution role may pull from ECR`,
    group: ['TaskDefinition'],
    async run(ctx) {
      const named = td.executionRoleArn;
      if (!named) {
        return [...(await ctx.launchKinds())].every((kind) => kind === 'EC2')
          ? skip(`no execution role: ${names} are pulled with the container instance role, which the bot does not check`)
          : skip('no execution role: reported by the execution role check');
      }
      // A missing role is the roles check's FAIL: not reported twice. If the bot may not read the
      // role, the simulation below still may run (or says what the bot needs).
      const role = await ctx.role(named).catch(() => null);
      if (role === undefined) return skip(`the execution role \`${roleName(named)}\` does not exist: reported by the execution role check`);
      const exec = role?.Arn ?? named; // the simulator needs the ARN; a task definition may hold just the name
      // Two questions, because ecr:GetAuthorizationToken is only ever granted on `*`: asked about a
      // repository ARN, a policy granting ecr:* on that repository would wrongly look sufficient.
      let denials: SimulationDenial[];
      try {
        const [token, layers] = await Promise.all([
          ctx.simulate(exec, ['ecr:GetAuthorizationToken'], ['*']),
          ctx.simulate(exec, ECR_PULL_ACTIONS, repositories),
        ]);
        denials = [...token.denials, ...layers.denials];
      } catch (error) {
        const why = describeCheckError(error);
        return unverified(`not verified as the execution role: ${why.message.replace(/^could not check: /, '')}`, why.fix);
      }
      if (denials.length) {
        return fail(`${describeDenials('execution role', exec, denials)}: tasks cannot pull their images`, pullFix(exec, denials, refs));
      }
      const account = await ctx.accountId();
      const foreign = uniqueBy(
        refs.filter((r) => r.ecr!.registryId !== account),
        (r) => r.ecr!.repositoryArn,
      );
      const note = foreign.length
        ? `; ${listWords(foreign.map((r) => `\`${r.repository}\` (account \`${r.ecr!.registryId}\`)`))} must also allow the pull in ${foreign.length === 1 ? 'its' : 'their'} repository policy`
        : '';
      return ok(`the execution role \`${roleName(exec)}\` may get an ECR token and pull from ${names}${note}`);
    },
  };
}

/** One inline policy granting what was denied: the token on `*`, the layer actions on the repositories. */
function pullFix(exec: string, denials: SimulationDenial[], refs: ImageRef[]): string {
  if (denials.some((d) => d.decision === 'explicitDeny')) return fixFor(exec, denials);
  const statements: object[] = [];
  if (denials.some((d) => d.action === 'ecr:GetAuthorizationToken')) statements.push({ Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' });
  const layers = denials.filter((d) => d.action !== 'ecr:GetAuthorizationToken');
  if (layers.length) {
    const resources = [...new Set(layers.map((d) => d.resource))];
    statements.push({ Effect: 'Allow', Action: [...new Set(layers.map((d) => d.action))], Resource: resources.length === 1 ? resources[0] : resources });
  }
  const document = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const name = roleName(exec);
  // In the role's own account, the repository policy could grant the pull instead; the simulation sees only the role's policies.
  const sameAccount = layers.length && refs.some((r) => r.ecr!.registryId === exec.split(':')[4]);
  return (
    `Allow it on the role: \`aws iam put-role-policy --role-name ${name} --policy-name ecr-pull --policy-document '${document}'\`` +
    ` (or attach the AWS managed policy \`AmazonECSTaskExecutionRolePolicy\`)${sameAccount ? '. A repository policy naming the role would also do.' : '.'}`
  );
}

// Other registries -------------------------------------------------------------------------------

async function registryImage(ctx: VerifyContext, ref: ImageRef, container: string): Promise<CheckOutcome> {
  const probe = await ctx.once<ManifestProbe>(`registry:${ref.registry}/${ref.repository}@${manifestReference(ref)}`, () =>
    probeManifest(ref, { timeoutMs: REGISTRY_TIMEOUT_MS }),
  );
  const registry = registryName(ref);
  const image = `\`${shortImageName(ref)}\``;
  switch (probe.status) {
    case 'found': {
      const details = [probe.digest ? `digest \`${shortDigest(probe.digest)}\`` : '', describeMediaType(probe.mediaType)].filter(Boolean).join(', ');
      return ok(`${image} exists on ${registry}${details ? ` (${details})` : ''}`);
    }
    case 'missing':
      return fail(
        `${image} does not exist on ${registry} (${probe.detail}): tasks would stop with CannotPullContainerError`,
        `Fix the tag or repository of container \`${container}\` in the task definition${ctx.options.image ? ' (or the image given to the deploy)' : ''}; \`docker manifest inspect ${formatImageRef(ref)}\` tells whether a reference exists.`,
      );
    case 'denied':
      return unverified(
        `not checked: ${probe.detail}. The repository is private or does not exist; without \`repositoryCredentials\` tasks cannot pull it`,
        `If it is private, set \`repositoryCredentials.credentialsParameter\` of container \`${container}\` to a Secrets Manager secret holding \`{"username": …, "password": …}\`; otherwise fix the image name.`,
      );
    case 'unreachable':
      return unverified(
        `not checked: ${registry} could not be reached (${probe.reason})`,
        `Check it by hand (\`docker manifest inspect ${formatImageRef(ref)}\`); the bot needs outbound HTTPS to \`${ref.registry}\` (a NAT gateway when it runs in a VPC).`,
      );
  }
}

async function privateRegistryImage(ctx: VerifyContext, ref: ImageRef, credentials: string, td: TaskDefinition): Promise<CheckOutcome> {
  const image = `\`${shortImageName(ref)}\``;
  // ECS reads the credentials as the execution role: a role that cannot read them cannot pull.
  // (No execution role, or a missing one, is the roles family's FAIL.)
  const role = td.executionRoleArn ? await ctx.role(td.executionRoleArn).catch(() => null) : undefined;
  if (role !== undefined && credentials.startsWith('arn:')) {
    const roleArn = role?.Arn ?? td.executionRoleArn!;
    const denied = await checkPermission(ctx, { label: 'execution role', roleArn, actions: ['secretsmanager:GetSecretValue'], resources: [credentials] });
    if (denied?.status === 'FAIL') return fail(`${denied.message}, the credentials for ${image}: tasks cannot pull it`, denied.fix);
  }
  return unverified(
    `not checked: ${image} is in a private registry (\`${ref.registry}\`); the bot does not use its credentials (\`${credentials}\`)`,
    `Check it by hand with those credentials: \`docker login ${ref.registry}\` then \`docker manifest inspect ${formatImageRef(ref)}\`.`,
  );
}

// Helpers ----------------------------------------------------------------------------------------

function registryName(ref: ImageRef): string {
  switch (ref.kind) {
    case 'docker-hub':
      return 'Docker Hub';
    case 'ecr-public':
      return 'Amazon ECR Public';
    default:
      return `\`${ref.registry}\``;
  }
}

function describeMediaType(mediaType: string | undefined): string {
  if (!mediaType) return '';
  if (/index|manifest\.list/.test(mediaType)) return 'multi-platform';
  return '';
}

const shortDigest = (digest: string | undefined) => (digest ? digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/i, '$1…') : '?');

function ago(date: Date): string {
  const minutes = Math.max(0, Math.round((Date.now() - date.getTime()) / 60_000));
  if (minutes < 1) return 'just now';
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
