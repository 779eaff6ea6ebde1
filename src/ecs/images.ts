/**
 * Container image references as ECS takes them (`repository[:tag][@digest]`), read the way Docker
 * reads them, and the registry HTTP API v2 question "does this manifest exist?".
 *
 * Used by `/ecs verify` (does every container's image exist, can the execution role pull it) and
 * by deploys (which image a tag names). Parsing follows Docker's reference grammar
 * (github.com/distribution/reference): a first path component is a registry host only if it
 * contains `.` or `:` or is `localhost`; otherwise the image is on Docker Hub, where one-component
 * names live under `library/`.
 */
import { optionalEnv, type EnvName } from '../config/env';

export type RegistryKind = 'ecr' | 'ecr-public' | 'docker-hub' | 'ghcr' | 'quay' | 'other';

/** Where a private Amazon ECR image lives, from its registry host. */
export interface EcrLocation {
  /** The registry's account (ECR's `registryId`). */
  registryId: string;
  region: string;
  /** `aws`, `aws-cn` or `aws-us-gov`: for the repository ARN. */
  partition: string;
  /** `arn:<partition>:ecr:<region>:<account>:repository/<name>`. */
  repositoryArn: string;
}

export interface ImageRef {
  /** The reference as written in the task definition. */
  raw: string;
  /** Registry host (with port), lower-case; `docker.io` for Docker Hub, whatever alias was written. */
  registry: string;
  /** Path within the registry: `web`, `library/nginx`, `aws-observability/aws-for-fluent-bit`. */
  repository: string;
  tag?: string;
  /** `sha256:…`; when present it is what gets pulled, whatever the tag says. */
  digest?: string;
  kind: RegistryKind;
  /** Set for private Amazon ECR registries. */
  ecr?: EcrLocation;
}

/** The text is not an image reference Docker (and so ECS) would accept. */
export class ImageReferenceError extends Error {
  constructor(
    readonly reference: string,
    readonly reason: string,
  ) {
    super(`\`${reference}\` is not a valid image reference: ${reason}`);
    this.name = 'ImageReferenceError';
  }
}

const DOCKER_HUB = 'docker.io';
/** Host names Docker treats as Docker Hub. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

// The grammar's pieces (distribution/reference regexp.go).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const HOST = /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const NAME_MAX = 255;

// <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], and the dual-stack <account>.dkr-ecr[-fips].<region>.on.aws.
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const ECR_DUALSTACK_HOST = /^(\d{12})\.dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws$/;

/** Parses `repo[:tag][@digest]`; throws ImageReferenceError (with a plain reason) otherwise. */
export function parseImageRef(text: string): ImageRef {
  const raw = text;
  const input = text.trim();
  if (!input) throw new ImageReferenceError(raw, 'it is empty');
  if (/\s/.test(input)) throw new ImageReferenceError(raw, 'it contains spaces');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ImageReferenceError(raw, `\`${digest}\` is not a digest (expected \`sha256:\` and 64 hex digits)`);
    if (digest.startsWith('sha256:') && digest.length !== 'sha256:'.length + 64) {
      throw new ImageReferenceError(raw, 'a sha256 digest has exactly 64 hex digits');
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw new ImageReferenceError(raw, `\`${tag}\` is not a valid tag (letters, digits, \`_\`, \`.\`, \`-\`; at most 128; not starting with \`.\` or \`-\`)`);
  }
  if (!rest) throw new ImageReferenceError(raw, 'the repository name is missing');

  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let registry = hasHost ? first.toLowerCase() : DOCKER_HUB;
  let repository = hasHost ? rest.slice(slash + 1) : rest;
  if (hasHost && !HOST.test(first)) throw new ImageReferenceError(raw, `\`${first}\` is not a registry host name`);
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!repository) throw new ImageReferenceError(raw, 'the repository name is missing');
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      const why =
        component !== component.toLowerCase()
          ? 'repository names must be lower-case'
          : 'repository names are lower-case letters and digits separated by `.`, `_`, `__` or `-`';
      throw new ImageReferenceError(raw, `\`${component || '(empty)'}\` in the repository name: ${why}`);
    }
  }
  if (`${registry}/${repository}`.length > NAME_MAX) throw new ImageReferenceError(raw, `the name is longer than ${NAME_MAX} characters`);

  const ecr = ecrLocation(registry, repository);
  return {
    raw,
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    kind: ecr ? 'ecr' : kindOf(registry),
    ...(ecr ? { ecr } : {}),
  };
}

/** parseImageRef, or undefined for text that is not an image reference. */
export function tryParseImageRef(text: string): ImageRef | undefined {
  try {
    return parseImageRef(text);
  } catch (error) {
    if (error instanceof ImageReferenceError) return undefined;
    throw error;
  }
}

function kindOf(registry: string): RegistryKind {
  if (registry === DOCKER_HUB) return 'docker-hub';
  if (registry === 'public.ecr.aws') return 'ecr-public';
  if (registry === 'ghcr.io') return 'ghcr';
  if (registry === 'quay.io') return 'quay';
  return 'other';
}

function ecrLocation(registry: string, repository: string): EcrLocation | undefined {
  const m = ECR_HOST.exec(registry) ?? ECR_DUALSTACK_HOST.exec(registry);
  if (!m) return undefined;
  const [, registryId, region, china] = m as unknown as [string, string, string, string | undefined];
  const partition = china || region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  return { registryId, region, partition, repositoryArn: `arn:${partition}:ecr:${region}:${registryId}:repository/${repository}` };
}

/** What a pull asks the registry for: the digest if there is one, else the tag, else `latest`. */
export function manifestReference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** `registry/repository` as Docker would print it in full (`docker.io/library/nginx`). */
export function repositoryName(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/**
 * The reference in short form for messages: Docker Hub's `library/` and host dropped
 * (`nginx:1.27`), ECR's host dropped (`web:v1.4.2`), others in full.
 */
export function shortImageName(ref: ImageRef): string {
  let name = ref.repository;
  if (ref.kind === 'docker-hub') name = name.replace(/^library\//, '');
  else if (ref.kind !== 'ecr') name = `${ref.registry}/${name}`;
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The full reference to use in a task definition (the registry as written for Docker Hub is normalised away). */
export function formatImageRef(ref: Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  const name = ref.registry === DOCKER_HUB ? ref.repository.replace(/^library\//, '') : `${ref.registry}/${ref.repository}`;
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * The same repository at another tag or digest (`v1.5.0`, `sha256:…`, or `:v1.5.0`): what a deploy
 * of "just a tag" puts into the task definition. The old digest is dropped, since it would win.
 */
export function withImageReference(image: string | ImageRef, reference: string): string {
  const ref = typeof image === 'string' ? parseImageRef(image) : image;
  const wanted = reference.replace(/^[:@]/, '');
  if (DIGEST.test(wanted)) return formatImageRef({ registry: ref.registry, repository: ref.repository, digest: wanted });
  if (!TAG.test(wanted)) throw new ImageReferenceError(reference, `\`${wanted}\` is neither a tag nor a digest`);
  return formatImageRef({ registry: ref.registry, repository: ref.repository, tag: wanted });
}

// Registry HTTP API v2 -------------------------------------------------------------------------

/**
 * Environment variable mapping registry hosts to base URLs, as JSON (`{"public.ecr.aws":
 * "http://127.0.0.1:5005"}`): the local world and tests point registries at a local one with it.
 * Hosts not listed are reached at `https://<host>` (Docker Hub at `https://registry-1.docker.io`).
 */
export const REGISTRY_ENDPOINTS_ENV = 'ECS_CHATOPS_REGISTRY_ENDPOINTS' satisfies EnvName;

/** Just the registry endpoints of an environment (tests pass their own). */
type RegistryEndpointsEnv = Partial<Record<typeof REGISTRY_ENDPOINTS_ENV, string>>;

/** Base URL of a registry's v2 API, without a trailing slash. */
export function registryBaseUrl(registry: string, env: RegistryEndpointsEnv = { [REGISTRY_ENDPOINTS_ENV]: optionalEnv(REGISTRY_ENDPOINTS_ENV) }): string {
  const text = env[REGISTRY_ENDPOINTS_ENV];
  if (text) {
    let map: unknown;
    try {
      map = JSON.parse(text);
    } catch {
      throw new Error(`${REGISTRY_ENDPOINTS_ENV} is not JSON (expected {"host": "base URL"})`);
    }
    // Docker Hub may be listed under any of its names (`registry-1.docker.io` is its API host).
    const keys = registry === DOCKER_HUB ? ['docker.io', 'registry-1.docker.io', 'index.docker.io'] : [registry];
    for (const key of keys) {
      const base = map && typeof map === 'object' ? (map as Record<string, unknown>)[key] : undefined;
      if (typeof base === 'string' && base) return base.replace(/\/+$/, '');
    }
  }
  return registry === DOCKER_HUB ? 'https://registry-1.docker.io' : `https://${registry}`;
}

/** Every manifest kind a pull may resolve a tag to: OCI index, Docker manifest list, single-platform manifests. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

export type ManifestProbe =
  /** The registry has it: the digest it resolves to (when the registry says), and the manifest kind. */
  | { status: 'found'; digest?: string; mediaType?: string }
  /** 404: no such tag or digest (or repository). */
  | { status: 'missing'; detail: string }
  /** The registry wants credentials even for a pull: a private repository, or one that does not exist (Docker Hub cannot tell them apart anonymously). */
  | { status: 'denied'; detail: string }
  /** No answer, or one that settles nothing (5xx, 429): not verified. */
  | { status: 'unreachable'; reason: string };

export interface ProbeOptions {
  /** Per request (a probe makes at most three: manifest, token, manifest again). Default 3 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  env?: RegistryEndpointsEnv;
}

/**
 * Asks the image's registry, anonymously, whether its manifest exists: `HEAD /v2/<name>/manifests/<ref>`;
 * on a 401 with a Bearer challenge, fetches an anonymous pull token from the challenge's realm and
 * asks again. HEAD is what `docker pull` itself starts with, and Docker Hub does not count it
 * against the pull rate limit.
 */
export async function probeManifest(ref: ImageRef, options: ProbeOptions = {}): Promise<ManifestProbe> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const http = options.fetch ?? fetch;
  const base = registryBaseUrl(ref.registry, options.env);
  const url = `${base}/v2/${ref.repository}/manifests/${encodeURIComponent(manifestReference(ref))}`;
  const where = `\`${ref.registry}\``;

  const ask = async (token?: string): Promise<Response> => {
    const headers: Record<string, string> = { accept: MANIFEST_ACCEPT, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const head = await http(url, { method: 'HEAD', headers, signal: AbortSignal.timeout(timeoutMs) });
    // A few registries do not implement HEAD on manifests; GET answers the same question.
    if (head.status !== 405) return head;
    const get = await http(url, { method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs) });
    await get.body?.cancel();
    return get;
  };

  try {
    let res = await ask();
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (!challenge) return { status: 'denied', detail: `${where} asks for credentials (no anonymous token offered)` };
      const token = await anonymousToken(http, challenge, ref.repository, timeoutMs);
      if (token.error) return token.error;
      res = await ask(token.token);
    }
    return interpret(res, ref, where);
  } catch (error) {
    return { status: 'unreachable', reason: networkReason(error, timeoutMs) };
  }
}

function interpret(res: Response, ref: ImageRef, where: string): ManifestProbe {
  if (res.ok) {
    const digest = res.headers.get('docker-content-digest') ?? undefined;
    const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
    return { status: 'found', ...(digest ? { digest } : {}), ...(mediaType ? { mediaType } : {}) };
  }
  if (res.status === 404) {
    return { status: 'missing', detail: `${where} has no manifest \`${manifestReference(ref)}\` in \`${ref.repository}\`` };
  }
  if (res.status === 401 || res.status === 403) {
    return { status: 'denied', detail: `${where} refused an anonymous pull of \`${ref.repository}\` (HTTP ${res.status})` };
  }
  if (res.status === 429) return { status: 'unreachable', reason: 'rate limited (HTTP 429)' };
  return { status: 'unreachable', reason: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
}

interface Challenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header || !/^\s*bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  if (!params.realm || !/^https?:\/\//i.test(params.realm)) return undefined;
  return { realm: params.realm, ...(params.service ? { service: params.service } : {}), ...(params.scope ? { scope: params.scope } : {}) };
}

async function anonymousToken(
  http: typeof fetch,
  challenge: Challenge,
  repository: string,
  timeoutMs: number,
): Promise<{ token?: string; error?: ManifestProbe }> {
  const url = new URL(challenge.realm);
  if (challenge.service) url.searchParams.set('service', challenge.service);
  url.searchParams.set('scope', challenge.scope ?? `repository:${repository}:pull`);
  const res = await http(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    return { error: { status: 'denied', detail: `\`${url.host}\` gives no anonymous pull token for \`${repository}\` (HTTP ${res.status})` } };
  }
  if (!res.ok) {
    await res.body?.cancel();
    return { error: { status: 'unreachable', reason: `its token service \`${url.host}\` answered HTTP ${res.status}` } };
  }
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
  if (!token) return { error: { status: 'unreachable', reason: `its token service \`${url.host}\` returned no token` } };
  return { token };
}

/** "no answer within 3 s", "DNS lookup failed (ENOTFOUND)", "connection refused (ECONNREFUSED)". */
function networkReason(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'ConnectTimeoutError')
    return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  const code = e?.cause?.code;
  const plain: Record<string, string> = {
    ENOTFOUND: 'DNS lookup failed',
    EAI_AGAIN: 'DNS lookup failed',
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_CONNECT_TIMEOUT: `no connection within ${Math.round(timeoutMs / 100) / 10} s`,
    CERT_HAS_EXPIRED: 'its TLS certificate has expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate could not be verified',
  };
  if (code) return `${plain[code] ?? e.cause?.message ?? 'network error'} (${code})`;
  return e?.cause?.message ?? e?.message ?? String(error);
}
