/**
 * Does the image a deploy names exist? Asked before anyone is asked to approve: a missing tag is
 * the most common bad deploy, and ECS would only find out when tasks fail to pull it.
 */
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import type { AwsSession } from '../aws/session';
import { recentTags } from '../ecs/ecr';
import { manifestReference, parseImageRef, probeManifest, shortImageName, type ImageRef } from '../ecs/images';
import { code, escapeText } from '../slack/format';

/** `note` is Slack text: what the registry or ECR said is escaped in it. */
export type ImageCheck =
  | { status: 'found'; note: string }
  | { status: 'missing'; note: string }
  /** Not settled (a registry out of reach, a private one, no permission): said, not refused. */
  | { status: 'unchecked'; note: string };

const REGISTRY_TIMEOUT_MS = 3_000;

export async function checkImage(aws: AwsSession, image: string): Promise<ImageCheck> {
  let ref: ImageRef;
  try {
    ref = parseImageRef(image);
  } catch (error) {
    return { status: 'missing', note: escapeText((error as Error).message) };
  }
  return ref.ecr ? ecrImage(aws, ref) : registryImage(ref);
}

async function ecrImage(aws: AwsSession, ref: ImageRef): Promise<ImageCheck> {
  const { registryId, region } = ref.ecr!;
  const ecr = aws.client(ECRClient, region);
  const where = `ECR repository ${code(ref.repository)} (account ${code(registryId)}, ${escapeText(region)})`;
  try {
    const out = await ecr.send(
      new DescribeImagesCommand({
        registryId,
        repositoryName: ref.repository,
        imageIds: [ref.digest ? { imageDigest: ref.digest } : { imageTag: ref.tag ?? 'latest' }],
      }),
    );
    const found = out.imageDetails?.[0];
    if (found)
      return {
        status: 'found',
        note: `${code(shortImageName(ref))} is in the ${where}${found.imagePushedAt ? `, pushed ${found.imagePushedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` : ''}`,
      };
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'RepositoryNotFoundException') return { status: 'missing', note: `the ${where} does not exist` };
    if (name !== 'ImageNotFoundException')
      return { status: 'unchecked', note: `could not look ${code(shortImageName(ref))} up in the ${where} (${escapeText((error as Error).message)})` };
  }
  const recent = await recentTags(ecr, registryId, ref.repository);
  return {
    status: 'missing',
    note: `the ${where} has no image ${ref.digest ? `with digest ${code(`${ref.digest.slice(0, 19)}…`)}` : `tagged ${code(ref.tag ?? 'latest')}`}${recent.length ? `; most recent tags: ${recent.map(code).join(', ')}` : ''}`,
  };
}

async function registryImage(ref: ImageRef): Promise<ImageCheck> {
  const probe = await probeManifest(ref, { timeoutMs: REGISTRY_TIMEOUT_MS });
  const image = code(shortImageName(ref));
  const registry = code(ref.registry);
  // The probe's words are plain text (they may quote what the registry answered).
  switch (probe.status) {
    case 'found':
      return { status: 'found', note: `${image} exists on ${registry}` };
    case 'missing':
      return { status: 'missing', note: `${image} does not exist on ${registry} (${escapeText(probe.detail)}; ${code(manifestReference(ref))} not found)` };
    case 'denied':
      return { status: 'unchecked', note: `${image} not checked: ${registry} wants credentials to read it (${escapeText(probe.detail)})` };
    case 'unreachable':
      return { status: 'unchecked', note: `${image} not checked: ${registry} could not be reached (${escapeText(probe.reason)})` };
  }
}
