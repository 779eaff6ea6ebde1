import type { RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import { UsageError } from '../platform/errors';
import { code } from '../slack/format';
import { repositoryName, tryParseImageRef, withImageReference } from './images';

/** `arn:…:task-definition/web:42` → `web:42` (the text itself when it is not an ARN). */
export const shortTaskDefinition = (arn: string | undefined): string => (arn ? arn.slice(arn.lastIndexOf('/') + 1) : '?');

/** `registry/repository` of an image reference, normalised (`nginx` is `docker.io/library/nginx`). */
function repositoryOf(image: string): string {
  const ref = tryParseImageRef(image);
  return ref ? repositoryName(ref) : image;
}

/** A bare tag (`v1.5.0`) rather than an image reference. */
const isBareTag = (value: string): boolean => /^[\w][\w.-]{0,127}$/.test(value) && !value.includes('/');

export interface ImageChange {
  container: string;
  from: string;
  to: string;
}

/**
 * The task definition a deploy of `image` would register: the current one with the image of the
 * application container(s) replaced. Which containers: `appContainers` from the configuration,
 * else those whose repository is the new image's; a bare tag keeps each app container's repository.
 */
export function withImage(current: TaskDefinition, image: string, appContainers?: string[]): { taskDefinition: TaskDefinition; changes: ImageChange[] } {
  const containers = current.containerDefinitions ?? [];
  const tagOnly = isBareTag(image);
  const list = containers.map((c) => `${code(c.name ?? '?')} → ${code(c.image ?? '?')}`).join(', ');
  let targets = containers.filter((c) => appContainers?.includes(c.name ?? ''));
  if (appContainers?.length) {
    const missing = appContainers.filter((n) => !containers.some((c) => c.name === n));
    if (missing.length)
      throw new UsageError(
        `The configuration names app container(s) ${missing.map(code).join(', ')}, which the task definition does not have (it has ${list}).`,
      );
  } else if (!tagOnly) {
    targets = containers.filter((c) => c.image && repositoryOf(c.image) === repositoryOf(image));
    if (targets.length === 0) {
      throw new UsageError(
        `No container uses repository ${code(repositoryOf(image))} (containers: ${list}). Give the full image of the app container, or set \`appContainers\` for this target.`,
      );
    }
  } else {
    // A bare tag: the containers sharing the first essential container's repository.
    const primary = containers.find((c) => c.essential !== false) ?? containers[0];
    targets = primary?.image ? containers.filter((c) => c.image && repositoryOf(c.image) === repositoryOf(primary.image!)) : [];
    if (targets.length === 0)
      throw new UsageError('Cannot tell which container a bare tag applies to: give the full image, or set `appContainers` for this target.');
  }
  const changes: ImageChange[] = [];
  const containerDefinitions = containers.map((c) => {
    if (!targets.includes(c)) return c;
    const to = tagOnly ? withImageReference(c.image!, image) : image;
    changes.push({ container: c.name!, from: c.image!, to });
    return { ...c, image: to };
  });
  return { taskDefinition: { ...current, containerDefinitions }, changes };
}

/** Fields DescribeTaskDefinition returns that ECS sets itself: RegisterTaskDefinition rejects them. */
const READ_ONLY_FIELDS = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequestedAt',
] as const;

/**
 * The RegisterTaskDefinition input for a new revision of `current` with `changes` applied. Every
 * other field is carried over as it is (new ECS fields included), only ECS's own are dropped; the
 * task definition's tags go along (DescribeTaskDefinition with include TAGS).
 */
export function registerInput(
  current: TaskDefinition,
  changes: ImageChange[],
  tags?: Array<{ key?: string; value?: string }>,
): RegisterTaskDefinitionCommandInput {
  const copy: Record<string, unknown> = { ...current };
  for (const field of READ_ONLY_FIELDS) delete copy[field];
  const byContainer = new Map(changes.map((c) => [c.container, c.to]));
  const containerDefinitions = (current.containerDefinitions ?? []).map((c) =>
    c.name && byContainer.has(c.name) ? { ...c, image: byContainer.get(c.name)! } : c,
  );
  return {
    ...(copy as Omit<RegisterTaskDefinitionCommandInput, 'containerDefinitions'>),
    containerDefinitions,
    ...(tags?.length ? { tags } : {}),
  } as RegisterTaskDefinitionCommandInput;
}
