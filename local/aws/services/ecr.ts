/**
 * Amazon ECR (JSON 1.1, target AmazonEC2ContainerRegistry_V20150921): repositories and image
 * metadata, enough to tell whether a task definition's image exists. Images in another account or
 * region are looked up there (registryId, and the region the client is built for), and another
 * account's repository answers only if its repository policy lets the caller's account in.
 */
import type { ImageDetail, Repository } from '@aws-sdk/client-ecr';
import { evaluate, policyText, type SourcePolicy } from '../policy';
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import type { RegionState } from '../state';

export interface EcrRepository {
  repository: Repository;
  images: ImageDetail[];
  /** Repository policy text, if any. */
  policy?: string;
}

const stores = new WeakMap<RegionState, Map<string, EcrRepository>>();
export const ecrState = (r: RegionState): Map<string, EcrRepository> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;

export const repositoryArn = (region: string, registryId: string, name: string) => `arn:aws:ecr:${region}:${registryId}:repository/${name}`;

/** Creates a repository; used by the seed and tests. */
export function putRepository(r: RegionState, name: string, createdAt: Date, policy?: string): EcrRepository {
  const repo: EcrRepository = {
    repository: {
      repositoryArn: repositoryArn(r.region, r.accountId, name),
      registryId: r.accountId,
      repositoryName: name,
      repositoryUri: `${r.accountId}.dkr.ecr.${r.region}.amazonaws.com/${name}`,
      createdAt,
      imageTagMutability: 'MUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'AES256' },
    },
    images: [],
    ...(policy ? { policy } : {}),
  };
  ecrState(r).set(name, repo);
  return repo;
}

/** Adds an image (or moves its tags onto it, as a push of an existing tag does). */
export function putImage(repo: EcrRepository, image: { digest: string; tags: string[]; pushedAt: Date; sizeInBytes: number }): void {
  for (const other of repo.images) other.imageTags = other.imageTags?.filter((t) => !image.tags.includes(t));
  repo.images.push({
    registryId: repo.repository.registryId,
    repositoryName: repo.repository.repositoryName,
    imageDigest: image.digest,
    imageTags: image.tags,
    imageSizeInBytes: image.sizeInBytes,
    imagePushedAt: image.pushedAt,
    imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    artifactMediaType: 'application/vnd.docker.container.image.v1+json',
  });
}

const CALLER_MAY_DO_ANYTHING: SourcePolicy = {
  id: 'caller',
  type: 'none',
  text: policyText({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
};

function findRepository(ctx: CallContext, registryId: string | undefined, name: string, action: string): EcrRepository {
  const registry = registryId ?? ctx.accountId;
  const repo = ecrState(ctx.state.region(registry, ctx.region)).get(name);
  if (!repo) {
    throw new AwsError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${registry}'`);
  }
  if (registry !== ctx.accountId) {
    // Cross-account reads need the repository policy; the caller's own IAM side is assumed to allow.
    const principalArn = ctx.identity.roleArn ?? ctx.identity.arn;
    const arn = repo.repository.repositoryArn!;
    const allowed =
      repo.policy &&
      evaluate(
        [CALLER_MAY_DO_ANYTHING],
        { action, resource: arn, principalArn, principalAccount: ctx.accountId },
        {
          resourcePolicy: { id: 'RepositoryPolicy', type: 'resource', text: repo.policy },
          resourceOwner: registry,
        },
      ).decision === 'allowed';
    if (!allowed) {
      throw AwsError.common(
        'AccessDenied',
        `User: ${ctx.identity.arn} is not authorized to perform: ${action} on resource: ${arn} because no resource-based policy allows the ${action} action`,
      );
    }
  }
  return repo;
}

const repoArns = (p: Params, ctx: CallContext) =>
  (p.repositoryName ? [p.repositoryName] : asList<string>(p.repositoryNames)).map((n) => repositoryArn(ctx.region, p.registryId ?? ctx.accountId, n));

/** ECR spells a missing image id with Java-style nulls. */
const imageIdText = (id: { imageDigest?: string; imageTag?: string }) => `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;

export const ecrService: ServiceDefinition = {
  name: 'ecr',
  protocol: 'json',
  target: 'AmazonEC2ContainerRegistry_V20150921',
  actions: {
    DescribeRepositories: {
      resources: (p, ctx) => (p.repositoryNames ? repoArns(p, ctx) : ['*']),
      handler: (p, ctx) => {
        const names = asList<string>(p.repositoryNames);
        const registry = p.registryId ?? ctx.accountId;
        const repos = names.length
          ? names.map((n) => findRepository(ctx, p.registryId, n, 'ecr:DescribeRepositories'))
          : [...ecrState(ctx.state.region(registry, ctx.region)).values()];
        return { repositories: repos.map((r) => structuredClone(r.repository)) };
      },
    },

    DescribeImages: {
      resources: repoArns,
      handler: (p, ctx) => {
        const name = String(p.repositoryName ?? '');
        const repo = findRepository(ctx, p.registryId, name, 'ecr:DescribeImages');
        const ids = asList<{ imageDigest?: string; imageTag?: string }>(p.imageIds);
        if (!ids.length) {
          const status = p.filter?.tagStatus ?? 'ANY';
          const images = repo.images.filter((i) => status === 'ANY' || (status === 'TAGGED') === !!i.imageTags?.length);
          return { imageDetails: structuredClone(images) };
        }
        const found = new Set<ImageDetail>();
        for (const id of ids) {
          const image = repo.images.find(
            (i) => (!id.imageDigest || i.imageDigest === id.imageDigest) && (!id.imageTag || !!i.imageTags?.includes(id.imageTag)),
          );
          // One missing id fails the whole call (BatchGetImage would list it in `failures` instead).
          if (!image) {
            throw new AwsError(
              'ImageNotFoundException',
              `The image with imageId ${imageIdText(id)} does not exist within the repository with name '${name}' in the registry with id '${repo.repository.registryId}'`,
            );
          }
          found.add(image);
        }
        return { imageDetails: structuredClone([...found]) };
      },
    },
  },
};
