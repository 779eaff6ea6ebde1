import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';

/**
 * The repository's latest tags, to suggest one: one DescribeImages page (100 images; ECR returns
 * them unordered, so in a larger repository these are the latest of that page). Best effort.
 */
export async function recentTags(ecr: ECRClient, registryId: string, repositoryName: string): Promise<string[]> {
  try {
    const out = await ecr.send(new DescribeImagesCommand({ registryId, repositoryName, filter: { tagStatus: 'TAGGED' }, maxResults: 100 }));
    return (out.imageDetails ?? [])
      .sort((a, b) => (b.imagePushedAt?.getTime() ?? 0) - (a.imagePushedAt?.getTime() ?? 0))
      .flatMap((i) => i.imageTags ?? [])
      .slice(0, 5);
  } catch {
    return [];
  }
}
