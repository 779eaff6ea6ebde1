/**
 * What the local registry holds from the start: every public (non-ECR) image the ECS seeds use,
 * plus a few common ones in each registry's usual format, so checks see index, list and single
 * manifests, and every host's token realm.
 */
import { SAMPLE } from '../aws/seed';
import type { ImageFormat, LocalRegistry } from './server';

const privateEcr = (image: string) => /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//.test(image);

/** Images and how each is pushed; the ECS seeds' public images come first. */
export function registrySeedImages(): Array<{ image: string; format: ImageFormat; platforms?: string[] }> {
  const fromEcsSeeds = [...new Set(Object.values(SAMPLE.images).filter((image) => !privateEcr(image)))];
  return [
    // aws-for-fluent-bit:stable is a Docker manifest list (amd64, arm64).
    ...fromEcsSeeds.map((image) => ({ image, format: 'docker-list' as const })),
    { image: 'docker.io/library/nginx:1.27', format: 'oci-index', platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] },
    { image: 'ghcr.io/example/sidecar:v1', format: 'oci' },
    { image: 'quay.io/prometheus/node-exporter:v1.8.2', format: 'docker-list' },
  ];
}

export function seedRegistry(registry: LocalRegistry): void {
  for (const { image, format, platforms } of registrySeedImages()) registry.putImage(image, { format, ...(platforms ? { platforms } : {}) });
}
