/**
 * Image references as Docker reads them, and the registry host each one is pulled from:
 *
 *   nginx:1.27                          → registry-1.docker.io  library/nginx      1.27
 *   docker.io/grafana/grafana           → registry-1.docker.io  grafana/grafana    latest
 *   public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
 *                                       → public.ecr.aws        aws-observability/aws-for-fluent-bit  stable
 *   ghcr.io/example/sidecar@sha256:…    → ghcr.io               example/sidecar    sha256:…
 *
 * The first path component is a host when it has a `.` or a `:` or is `localhost`; otherwise the
 * image is on Docker Hub, whose API host is `registry-1.docker.io` (`docker.io` and
 * `index.docker.io` are its aliases) and whose one-component names live under `library/`.
 */
export const DOCKER_HUB = 'registry-1.docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', DOCKER_HUB]);

export interface ImageReference {
  /** The registry's API host: `registry-1.docker.io`, `public.ecr.aws`, `ghcr.io`… */
  registry: string;
  /** Repository name as the registry API wants it (`library/nginx`). */
  repository: string;
  tag?: string;
  digest?: string;
  /** What to put after `/manifests/`: the digest if given, else the tag (default `latest`). */
  reference: string;
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function parseImageReference(image: string): ImageReference {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new Error(`invalid digest in image reference: ${image}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error(`invalid tag in image reference: ${image}`);
  }
  const parts = rest.split('/');
  const first = parts[0]!;
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let registry = hasHost ? first : DOCKER_HUB;
  let path = hasHost ? parts.slice(1) : parts;
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (path.length === 1) path = ['library', ...path];
  }
  if (path.length === 0 || !path.every((p) => COMPONENT.test(p))) throw new Error(`invalid repository name in image reference: ${image}`);
  const repository = path.join('/');
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), reference: digest ?? tag! };
}
