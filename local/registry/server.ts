/**
 * A local container registry: the part of the Docker Registry HTTP API v2 (and the token auth
 * around it) that a client needs to tell, anonymously, whether an image exists. One server on
 * 127.0.0.1 stands in for several registries at once; each registry host has a path prefix:
 *
 *   http://127.0.0.1:PORT/<registry host>/v2/…        e.g. …/registry-1.docker.io/v2/library/nginx/manifests/1.27
 *
 * so production code needs one setting to find it: ECS_CHATOPS_REGISTRY_ENDPOINTS, a JSON object
 * from registry host to the base URL that replaces `https://<host>` (hosts not listed: the real one):
 *
 *   ECS_CHATOPS_REGISTRY_ENDPOINTS='{"registry-1.docker.io":"http://127.0.0.1:PORT/registry-1.docker.io",
 *     "public.ecr.aws":"http://127.0.0.1:PORT/public.ecr.aws","ghcr.io":…,"quay.io":…}'
 *
 * The conversation is the real one (distribution's token auth):
 *
 *   HEAD <base>/v2/<name>/manifests/<tag|digest>     → 401, WWW-Authenticate: Bearer realm="…",service="…",scope="repository:<name>:pull"
 *   GET  <realm>?service=…&scope=repository:<name>:pull → 200 {"token":…,"access_token":…,"expires_in":300,"issued_at":…}
 *   HEAD <base>/v2/<name>/manifests/<ref>, Authorization: Bearer <token>, Accept: <manifest types>
 *        → 200, Docker-Content-Digest, Content-Type, Content-Length (GET: the manifest itself)
 *        → 404 {"errors":[{"code":"MANIFEST_UNKNOWN",…}]} (unknown tag or digest)
 *        → 404 {"errors":[{"code":"NAME_UNKNOWN",…}]} (unknown repository)
 *
 * Realms point back at this server and copy each registry's own: Docker Hub's is another host
 * (auth.docker.io, service registry.docker.io), quay.io's is /v2/auth, public.ecr.aws's /token/.
 * A client must therefore follow the challenge, not guess. Tokens are HS256 JWTs scoped to one
 * registry (aud = its service) and to the repositories asked for; private repositories are never
 * granted anonymously (401 insufficient_scope, as real registries answer without credentials).
 *
 * Content negotiation follows distribution: an OCI index is only served to a client that accepts
 * it (otherwise MANIFEST_UNKNOWN); a Docker manifest list asked for by tag by a client that does
 * not accept lists is replaced by its linux/amd64 manifest. Digests are the sha256 of the bytes
 * served. Note: Docker Hub really answers 401 (not 404 NAME_UNKNOWN) for repositories that do not
 * exist, to hide private ones; a check should treat both as "not found or not public".
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DOCKER_HUB, parseImageReference } from './reference';
import { seedRegistry } from './seed';

/** The environment setting production code reads registry base URLs from (JSON: host → base URL). */
export const REGISTRY_ENDPOINTS_ENV = 'ECS_CHATOPS_REGISTRY_ENDPOINTS';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** How each registry host authenticates: its token service name and realm (a path on this server). */
interface HostAuth {
  service: string;
  /** Realm path on this server, without the leading slash. */
  realm: string;
}
const KNOWN_HOSTS: Record<string, HostAuth> = {
  [DOCKER_HUB]: { service: 'registry.docker.io', realm: 'auth.docker.io/token' },
  'public.ecr.aws': { service: 'public.ecr.aws', realm: 'public.ecr.aws/token/' },
  'ghcr.io': { service: 'ghcr.io', realm: 'ghcr.io/token' },
  'quay.io': { service: 'quay.io', realm: 'quay.io/v2/auth' },
};
export const REGISTRY_HOSTS = Object.keys(KNOWN_HOSTS);

/** `{ ECS_CHATOPS_REGISTRY_ENDPOINTS: '{"registry-1.docker.io":"<url>/registry-1.docker.io",…}' }` for a registry at `url`. */
export function registryEndpointsEnv(url: string, hosts: string[] = REGISTRY_HOSTS): Record<string, string> {
  const base = url.replace(/\/+$/, '');
  return { [REGISTRY_ENDPOINTS_ENV]: JSON.stringify(Object.fromEntries(hosts.map((host) => [host, `${base}/${host}`]))) };
}

export type ImageFormat = 'oci-index' | 'docker-list' | 'oci' | 'docker';

export interface PutImageOptions {
  /** Default `oci-index` (multi-platform, as buildx pushes today). */
  format?: ImageFormat;
  /** Platforms of an index or list (default linux/amd64 and linux/arm64); single manifests are linux/amd64. */
  platforms?: string[];
  /** Not pullable anonymously. */
  private?: boolean;
}

export interface PushedImage {
  registry: string;
  repository: string;
  tag: string;
  /** Digest of what the tag points at (the index or list for multi-platform images). */
  digest: string;
  mediaType: string;
  /** Per-platform manifest digests (`linux/amd64` → digest). */
  platforms: Record<string, string>;
}

interface StoredManifest {
  mediaType: string;
  body: Buffer;
  digest: string;
  /** For an index or list: the linux/amd64 child, served to clients that do not accept lists. */
  amd64?: string;
}
interface Repository {
  private: boolean;
  tags: Map<string, string>;
  manifests: Map<string, StoredManifest>;
}

export interface RegistryRequest {
  method: string;
  /** Registry host the request was for (`auth.docker.io` for Docker Hub's token endpoint). */
  host: string;
  path: string;
  status: number;
  at: Date;
}

export interface LocalRegistry {
  url: string;
  port: number;
  /** Base URL per registry host (what replaces `https://<host>`). */
  endpoints(): Record<string, string>;
  /** ECS_CHATOPS_REGISTRY_ENDPOINTS for every host this registry serves. */
  env(): Record<string, string>;
  /** Pushes an image (`nginx:1.27`, `ghcr.io/example/sidecar:v1`…); the tag moves if it existed. */
  putImage(image: string, options?: PutImageOptions): PushedImage;
  /** Untags an image (its manifests stay reachable by digest), or removes the whole repository. */
  deleteTag(image: string): boolean;
  deleteRepository(image: string): boolean;
  /** Every request served, oldest first. */
  requests: RegistryRequest[];
  close(): Promise<void>;
}

export interface RegistryOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Seed the public images of the ECS seeds and a few more (default true; see seed.ts). */
  seed?: boolean;
  /** Token lifetime in seconds (default 300, as Docker Hub). */
  tokenTtlSeconds?: number;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
const platformOf = (p: string) => {
  const [os = 'linux', architecture = 'amd64', variant] = p.split('/');
  return { architecture, os, ...(variant ? { variant } : {}) };
};

export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  const secret = randomBytes(32);
  const ttl = options.tokenTtlSeconds ?? 300;
  const hosts = new Map<string, { auth: HostAuth; repositories: Map<string, Repository> }>();
  const requests: RegistryRequest[] = [];
  let url = '';

  const hostState = (host: string) => {
    let state = hosts.get(host);
    if (!state) {
      state = { auth: KNOWN_HOSTS[host] ?? { service: host, realm: `${host}/token` }, repositories: new Map() };
      hosts.set(host, state);
    }
    return state;
  };
  for (const host of REGISTRY_HOSTS) hostState(host);

  // Images ----------------------------------------------------------------------------------
  function store(repo: Repository, mediaType: string, document: unknown, amd64?: string): StoredManifest {
    const body = Buffer.from(JSON.stringify(document, null, 3));
    const manifest: StoredManifest = { mediaType, body, digest: sha256(body), ...(amd64 ? { amd64 } : {}) };
    repo.manifests.set(manifest.digest, manifest);
    return manifest;
  }

  function putImage(image: string, opts: PutImageOptions = {}): PushedImage {
    const ref = parseImageReference(image);
    if (!ref.tag || ref.digest) throw new Error(`push by tag: ${image}`);
    const format = opts.format ?? 'oci-index';
    const oci = format === 'oci-index' || format === 'oci';
    const single = format === 'oci' || format === 'docker';
    const repos = hostState(ref.registry).repositories;
    const repo = repos.get(ref.repository) ?? { private: false, tags: new Map(), manifests: new Map() };
    repo.private = opts.private ?? repo.private;
    repos.set(ref.repository, repo);

    const label = `${ref.registry}/${ref.repository}:${ref.tag}`;
    const platform = (p: string): StoredManifest => {
      const fake = (what: string, size: number) => ({ digest: sha256(`${label}/${p}/${what}`), size });
      const layer = oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
      return store(repo, oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest, {
        schemaVersion: 2,
        mediaType: oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
        config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', ...fake('config', 7_023) },
        layers: [
          { mediaType: layer, ...fake('layer/0', 29_126_484) },
          { mediaType: layer, ...fake('layer/1', 41_388_019) },
          { mediaType: layer, ...fake('layer/2', 628) },
        ],
      });
    };
    const platforms = single ? ['linux/amd64'] : (opts.platforms ?? ['linux/amd64', 'linux/arm64']);
    const children = platforms.map((p) => [p, platform(p)] as const);
    let top: StoredManifest;
    if (single) top = children[0]![1];
    else {
      const mediaType = oci ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerList;
      const manifests = children.map(([p, m]) => ({ mediaType: m.mediaType, digest: m.digest, size: m.body.length, platform: platformOf(p) }));
      top = store(repo, mediaType, { schemaVersion: 2, mediaType, manifests }, children.find(([p]) => p === 'linux/amd64')?.[1].digest);
    }
    repo.tags.set(ref.tag, top.digest);
    return {
      registry: ref.registry,
      repository: ref.repository,
      tag: ref.tag,
      digest: top.digest,
      mediaType: top.mediaType,
      platforms: Object.fromEntries(children.map(([p, m]) => [p, m.digest])),
    };
  }

  // Tokens ----------------------------------------------------------------------------------
  interface Access {
    type: string;
    name: string;
    actions: string[];
  }
  function issueToken(host: string, service: string, scopes: string[]): string {
    const repos = hostState(host).repositories;
    const access: Access[] = [];
    for (const scope of scopes) {
      const match = /^repository:([^:]+):([a-z,*]+)$/.exec(scope);
      if (!match) continue;
      const [, name, actions] = match as unknown as [string, string, string];
      // Anonymous: pull only, and only what is public (unknown names too, so they can be told apart: NAME_UNKNOWN).
      const grant = actions.split(',').includes('pull') && !repos.get(name)?.private ? ['pull'] : [];
      access.push({ type: 'repository', name, actions: grant });
    }
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ iss: 'local-registry', sub: '', aud: service, exp: now + ttl, nbf: now - 1, iat: now, jti: randomUUID(), access }));
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${signature}`;
  }
  /** The token's claims if it is ours, unexpired and for `service`; else why not. */
  function checkToken(authorization: string | undefined, service: string): { access: Access[] } | 'missing' | 'invalid' {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return 'missing';
    const [header, payload, signature] = token.split('.');
    if (!header || !payload || !signature) return 'invalid';
    const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud: string; exp: number; access: Access[] };
      if (claims.aud !== service || claims.exp * 1000 <= Date.now()) return 'invalid';
      return { access: claims.access ?? [] };
    } catch {
      return 'invalid';
    }
  }

  // HTTP ------------------------------------------------------------------------------------
  type Reply = { status: number; headers?: Record<string, string>; body?: Buffer | string };
  const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  });
  const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };
  const errors = (status: number, code: string, message: string, detail?: unknown, headers: Record<string, string> = {}) =>
    json(status, { errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] }, { ...API_VERSION, ...headers });

  function handle(req: IncomingMessage): Reply & { host: string } {
    const parsed = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = parsed.pathname;
    if (path === '/' && method === 'GET') {
      return {
        host: '',
        ...json(200, {
          registry: 'local',
          hosts: Object.fromEntries([...hosts].map(([h, s]) => [h, { base: `${url}/${h}`, service: s.auth.service, realm: `${url}/${s.auth.realm}` }])),
        }),
      };
    }
    // Token endpoints (realms) first: quay.io's lives under /v2/.
    for (const [host, state] of hosts) {
      const realm = `/${state.auth.realm}`;
      if (path === realm || path === realm.replace(/\/$/, '') || path === `${realm}/`) {
        if (method !== 'GET') return { host: realm.split('/')[1]!, ...json(405, { details: 'method not allowed' }) };
        const scopes = parsed.searchParams
          .getAll('scope')
          .flatMap((s) => s.split(' '))
          .filter(Boolean);
        const service = parsed.searchParams.get('service') ?? state.auth.service;
        const token = issueToken(host, service, scopes);
        return { host: realm.split('/')[1]!, ...json(200, { token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() }) };
      }
    }
    const slash = path.indexOf('/', 1);
    const host = slash > 0 ? path.slice(1, slash) : path.slice(1);
    const state = hosts.get(host);
    const rest = slash > 0 ? path.slice(slash) : '';
    if (!state || !rest.startsWith('/v2/'))
      return {
        host,
        ...json(404, { errors: [{ code: 'NOT_FOUND', message: `no registry ${host || '(none)'} here; hosts: ${[...hosts.keys()].join(', ')}` }] }),
      };

    const realm = `${url}/${state.auth.realm}`;
    const challenge = (scope?: string, error?: string) =>
      `Bearer realm="${realm}",service="${state.auth.service}"${scope ? `,scope="${scope}"` : ''}${error ? `,error="${error}"` : ''}`;
    const token = checkToken(req.headers.authorization, state.auth.service);

    if (rest === '/v2/' || rest === '/v2') {
      if (typeof token !== 'object')
        return {
          host,
          ...errors(401, 'UNAUTHORIZED', 'authentication required', null, {
            'www-authenticate': challenge(undefined, token === 'invalid' ? 'invalid_token' : undefined),
          }),
        };
      return { host, ...json(200, {}, API_VERSION) };
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(rest);
    const tagsList = /^\/v2\/(.+)\/tags\/list$/.exec(rest);
    const name = manifest?.[1] ?? tagsList?.[1];
    if (!name) return { host, ...errors(404, 'NOT_FOUND', 'not found') };
    if (method !== 'GET' && method !== 'HEAD') return { host, ...errors(405, 'UNSUPPORTED', 'The operation is unsupported.') };

    const scope = `repository:${name}:pull`;
    if (typeof token !== 'object' || !token.access.some((a) => a.type === 'repository' && a.name === name && a.actions.includes('pull'))) {
      const error = token === 'invalid' ? 'invalid_token' : token === 'missing' ? undefined : 'insufficient_scope';
      return {
        host,
        ...errors(401, 'UNAUTHORIZED', 'authentication required', [{ Type: 'repository', Class: '', Name: name, Action: 'pull' }], {
          'www-authenticate': challenge(scope, error),
        }),
      };
    }
    const repo = state.repositories.get(name);
    if (!repo) return { host, ...errors(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name }) };
    if (tagsList) return { host, ...json(200, { name, tags: [...repo.tags.keys()].sort() }, API_VERSION) };

    // Clients may percent-encode the reference (`sha256%3A…`), as the path segment it is.
    let reference = manifest![2]!;
    try {
      reference = decodeURIComponent(reference);
    } catch {
      return { host, ...errors(400, 'MANIFEST_INVALID', 'manifest invalid', { reference }) };
    }
    const byDigest = /^[a-z0-9]+:[a-f0-9]{32,}$/.test(reference);
    const digest = byDigest ? reference : repo.tags.get(reference);
    let found = digest ? repo.manifests.get(digest) : undefined;
    const unknown = () => errors(404, 'MANIFEST_UNKNOWN', 'manifest unknown', byDigest ? { Digest: reference } : { Tag: reference });
    if (!found) return { host, ...unknown() };

    // Accept: any of the listed types (several headers arrive joined by commas); none or */* takes anything.
    const accepted = new Set(
      String(req.headers.accept ?? '')
        .split(',')
        .map((t) => t.split(';')[0]!.trim().toLowerCase())
        .filter(Boolean),
    );
    const takes = (type: string) => accepted.size === 0 || accepted.has('*/*') || accepted.has(type);
    if (found.mediaType === MEDIA_TYPES.ociIndex && !takes(MEDIA_TYPES.ociIndex)) {
      return {
        host,
        ...errors(
          404,
          'MANIFEST_UNKNOWN',
          'OCI index found, but accept header does not support OCI indexes',
          byDigest ? { Digest: reference } : { Tag: reference },
        ),
      };
    }
    if (found.mediaType === MEDIA_TYPES.dockerList && !takes(MEDIA_TYPES.dockerList)) {
      // distribution rewrites a list fetched by tag to its linux/amd64 manifest for old clients.
      const amd64 = !byDigest && found.amd64 ? repo.manifests.get(found.amd64) : undefined;
      if (!amd64 || !takes(amd64.mediaType)) return { host, ...unknown() };
      found = amd64;
    }
    if ((found.mediaType === MEDIA_TYPES.ociManifest || found.mediaType === MEDIA_TYPES.dockerManifest) && !takes(found.mediaType)) {
      return { host, ...unknown() };
    }
    return {
      host,
      status: 200,
      headers: {
        ...API_VERSION,
        'content-type': found.mediaType,
        'content-length': String(found.body.length),
        'docker-content-digest': found.digest,
        etag: `"${found.digest}"`,
      },
      body: found.body,
    };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume(); // no request bodies in this API subset
    let reply: Reply & { host: string };
    try {
      reply = handle(req);
    } catch (error) {
      console.error('[registry] request failed', error);
      reply = { host: '', status: 500 };
    }
    requests.push({ method: req.method ?? 'GET', host: reply.host, path: req.url ?? '/', status: reply.status, at: new Date() });
    const body = reply.body === undefined ? undefined : Buffer.from(reply.body);
    const headers = { ...reply.headers, ...(body && !reply.headers?.['content-length'] ? { 'content-length': String(body.length) } : {}) };
    res.writeHead(reply.status, headers);
    // HEAD: the same headers (Content-Length included), no body.
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;

  const registry: LocalRegistry = {
    url,
    port,
    requests,
    endpoints: () => Object.fromEntries([...hosts.keys()].map((host) => [host, `${url}/${host}`])),
    env: () => registryEndpointsEnv(url, [...hosts.keys()]),
    putImage,
    deleteTag(image) {
      const ref = parseImageReference(image);
      return !!ref.tag && !!hosts.get(ref.registry)?.repositories.get(ref.repository)?.tags.delete(ref.tag);
    },
    deleteRepository(image) {
      const ref = parseImageReference(image);
      return !!hosts.get(ref.registry)?.repositories.delete(ref.repository);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  if (options.seed !== false) seedRegistry(registry);
  return registry;
}
