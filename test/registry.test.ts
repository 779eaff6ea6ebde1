/**
 * The local container registry (local/registry), with plain fetch, the way a client checks that an
 * image tag exists without credentials: resolve the registry host through
 * ECS_CHATOPS_REGISTRY_ENDPOINTS, get challenged, fetch a token from the realm, ask for the manifest.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE } from '../local/aws';
import {
  MEDIA_TYPES,
  parseImageReference,
  REGISTRY_ENDPOINTS_ENV,
  registryEndpointsEnv,
  registrySeedImages,
  startRegistry,
  type LocalRegistry,
} from '../local/registry';

let registry: LocalRegistry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.close();
});

/** What a client accepts when it only wants to know that a tag exists, whatever its format. */
const ACCEPT_ALL = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest].join(', ');

/** Production's lookup: the registry host's base URL from the one setting, else the real host. */
function baseUrl(host: string, env: Record<string, string | undefined> = registry.env()): string {
  const endpoints = JSON.parse(env[REGISTRY_ENDPOINTS_ENV] ?? '{}') as Record<string, string>;
  return endpoints[host] ?? `https://${host}`;
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
function parseChallenge(header: string | null): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header!.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

async function tokenFor(challenge: Record<string, string>): Promise<string> {
  const realm = new URL(challenge.realm!);
  realm.searchParams.set('service', challenge.service!);
  if (challenge.scope) realm.searchParams.set('scope', challenge.scope);
  const res = await fetch(realm);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
  expect(body.access_token).toBe(body.token);
  expect(body.expires_in).toBe(300);
  return body.token;
}

/** The whole anonymous check: challenge, token, manifest. */
async function check(image: string, init: { method?: string; accept?: string } = {}) {
  const ref = parseImageReference(image);
  const url = `${baseUrl(ref.registry)}/v2/${ref.repository}/manifests/${ref.reference}`;
  const headers = { accept: init.accept ?? ACCEPT_ALL };
  const first = await fetch(url, { method: init.method ?? 'HEAD', headers });
  expect(first.status).toBe(401);
  const challenge = parseChallenge(first.headers.get('www-authenticate'));
  const token = await tokenFor(challenge);
  const res = await fetch(url, { method: init.method ?? 'HEAD', headers: { ...headers, authorization: `Bearer ${token}` } });
  return { res, challenge, token, url };
}

describe('endpoints', () => {
  it('maps every registry host to a base URL on the local server through one setting', () => {
    const env = registryEndpointsEnv('http://127.0.0.1:5000');
    expect(Object.keys(env)).toEqual(['ECS_CHATOPS_REGISTRY_ENDPOINTS']);
    expect(JSON.parse(env.ECS_CHATOPS_REGISTRY_ENDPOINTS!)).toEqual({
      'registry-1.docker.io': 'http://127.0.0.1:5000/registry-1.docker.io',
      'public.ecr.aws': 'http://127.0.0.1:5000/public.ecr.aws',
      'ghcr.io': 'http://127.0.0.1:5000/ghcr.io',
      'quay.io': 'http://127.0.0.1:5000/quay.io',
    });
    expect(registry.env()).toEqual(registryEndpointsEnv(registry.url));
    expect(baseUrl('docker.example.com')).toBe('https://docker.example.com');
  });

  it('resolves image references to registry hosts as Docker does', () => {
    expect(parseImageReference('nginx:1.27')).toEqual({ registry: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.27', reference: '1.27' });
    expect(parseImageReference('docker.io/library/nginx:1.27')).toMatchObject({ registry: 'registry-1.docker.io', repository: 'library/nginx' });
    expect(parseImageReference('index.docker.io/grafana/grafana')).toMatchObject({
      registry: 'registry-1.docker.io',
      repository: 'grafana/grafana',
      reference: 'latest',
    });
    expect(parseImageReference(SAMPLE.images.logRouter)).toMatchObject({
      registry: 'public.ecr.aws',
      repository: 'aws-observability/aws-for-fluent-bit',
      tag: 'stable',
    });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseImageReference(`ghcr.io/example/sidecar:v1@${digest}`)).toMatchObject({ registry: 'ghcr.io', tag: 'v1', digest, reference: digest });
    expect(parseImageReference('localhost:5000/app')).toMatchObject({ registry: 'localhost:5000', repository: 'app' });
    expect(() => parseImageReference('Upper/Case:1')).toThrow(/invalid repository name/);
  });
});

describe('token dance', () => {
  it('challenges an anonymous request, issues a token for the scope, then answers HEAD with the digest', async () => {
    const { res, challenge, token, url } = await check('docker.io/library/nginx:1.27');
    // Docker Hub's realm is another host (auth.docker.io); here a path on the same local server.
    expect(challenge).toEqual({ realm: `${registry.url}/auth.docker.io/token`, service: 'registry.docker.io', scope: 'repository:library/nginx:pull' });
    expect(token.split('.')).toHaveLength(3);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MEDIA_TYPES.ociIndex);
    expect(res.headers.get('docker-content-digest')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await res.text()).toBe('');

    // GET serves the manifest whose sha256 is that digest.
    const get = await fetch(url, { headers: { accept: ACCEPT_ALL, authorization: `Bearer ${token}` } });
    const body = Buffer.from(await get.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(res.headers.get('docker-content-digest'));
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    const index = JSON.parse(body.toString()) as { mediaType: string; manifests: Array<{ digest: string; platform: { os: string; architecture: string } }> };
    expect(index.mediaType).toBe(MEDIA_TYPES.ociIndex);
    expect(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm']);

    // A platform manifest is reachable by its digest with the same token (percent-encoded or not).
    const child = await fetch(`${baseUrl('registry-1.docker.io')}/v2/library/nginx/manifests/${encodeURIComponent(index.manifests[0]!.digest)}`, {
      method: 'HEAD',
      headers: { accept: MEDIA_TYPES.ociManifest, authorization: `Bearer ${token}` },
    });
    expect(child.status).toBe(200);
    expect(child.headers.get('content-type')).toBe(MEDIA_TYPES.ociManifest);
  });

  it('finds every seeded image, each registry host with its own realm on the same server', async () => {
    const realms: Record<string, [string, string]> = {
      'registry-1.docker.io': ['auth.docker.io/token', 'registry.docker.io'],
      'public.ecr.aws': ['public.ecr.aws/token/', 'public.ecr.aws'],
      'ghcr.io': ['ghcr.io/token', 'ghcr.io'],
      'quay.io': ['quay.io/v2/auth', 'quay.io'],
    };
    const images = registrySeedImages().map((i) => i.image);
    expect(images).toEqual(expect.arrayContaining([SAMPLE.images.logRouter, 'docker.io/library/nginx:1.27', 'ghcr.io/example/sidecar:v1']));
    const types: Record<string, string> = {};
    for (const image of images) {
      const { res, challenge } = await check(image);
      expect(res.status, image).toBe(200);
      const host = parseImageReference(image).registry;
      expect([challenge.realm, challenge.service]).toEqual([`${registry.url}/${realms[host]![0]}`, realms[host]![1]]);
      types[image] = res.headers.get('content-type')!;
    }
    expect(types).toMatchObject({
      [SAMPLE.images.logRouter]: MEDIA_TYPES.dockerList,
      'docker.io/library/nginx:1.27': MEDIA_TYPES.ociIndex,
      'ghcr.io/example/sidecar:v1': MEDIA_TYPES.ociManifest,
    });
  });

  it('answers the /v2/ ping with a challenge, then 200 with a token', async () => {
    const base = baseUrl('ghcr.io');
    const ping = await fetch(`${base}/v2/`);
    expect(ping.status).toBe(401);
    const challenge = parseChallenge(ping.headers.get('www-authenticate'));
    expect(challenge.scope).toBeUndefined();
    const token = await tokenFor({ ...challenge, scope: 'repository:example/sidecar:pull' });
    expect((await fetch(`${base}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('not found', () => {
  it('a missing tag is 404 MANIFEST_UNKNOWN (HEAD: status only)', async () => {
    const { res, url, token } = await check('public.ecr.aws/aws-observability/aws-for-fluent-bit:does-not-exist', { method: 'GET' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'does-not-exist' } }] });
    const head = await fetch(url, { method: 'HEAD', headers: { accept: ACCEPT_ALL, authorization: `Bearer ${token}` } });
    expect(head.status).toBe(404);
    expect(head.headers.get('docker-content-digest')).toBeNull();
    expect(await head.text()).toBe('');
  });

  it('a missing repository is 404 NAME_UNKNOWN', async () => {
    const { res } = await check('ghcr.io/example/does-not-exist:v1', { method: 'GET' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: 'example/does-not-exist' } }],
    });
  });

  it('an unknown digest is MANIFEST_UNKNOWN too', async () => {
    const { res } = await check(`quay.io/prometheus/node-exporter@sha256:${'0'.repeat(64)}`, { method: 'GET' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('MANIFEST_UNKNOWN');
  });

  it('a deleted tag disappears; a pushed one appears; tags/list shows them', async () => {
    const pushed = registry.putImage('nginx:1.27.9-test', { format: 'docker-list' });
    expect(pushed).toMatchObject({ registry: 'registry-1.docker.io', repository: 'library/nginx', tag: '1.27.9-test', mediaType: MEDIA_TYPES.dockerList });
    const found = await check('nginx:1.27.9-test');
    expect(found.res.headers.get('docker-content-digest')).toBe(pushed.digest);
    const tags = await fetch(`${baseUrl('registry-1.docker.io')}/v2/library/nginx/tags/list`, { headers: { authorization: `Bearer ${found.token}` } });
    expect(await tags.json()).toEqual({ name: 'library/nginx', tags: ['1.27', '1.27.9-test'] });
    expect(registry.deleteTag('nginx:1.27.9-test')).toBe(true);
    expect((await check('nginx:1.27.9-test')).res.status).toBe(404);
  });
});

describe('content negotiation and tokens', () => {
  it('serves an OCI index only to a client that accepts one; rewrites a Docker list to linux/amd64 for one that does not', async () => {
    const nginx = await check('nginx:1.27', { method: 'GET', accept: MEDIA_TYPES.dockerManifest });
    expect(nginx.res.status).toBe(404);
    expect(((await nginx.res.json()) as { errors: Array<{ message: string }> }).errors[0]!.message).toBe(
      'OCI index found, but accept header does not support OCI indexes',
    );

    const fluent = await check(SAMPLE.images.logRouter, { accept: MEDIA_TYPES.dockerManifest });
    expect(fluent.res.status).toBe(200);
    expect(fluent.res.headers.get('content-type')).toBe(MEDIA_TYPES.dockerManifest);
    const list = await fetch(fluent.url, { headers: { accept: ACCEPT_ALL, authorization: `Bearer ${fluent.token}` } });
    const manifests = ((await list.json()) as { manifests: Array<{ digest: string; platform: { architecture: string } }> }).manifests;
    expect(fluent.res.headers.get('docker-content-digest')).toBe(manifests.find((m) => m.platform.architecture === 'amd64')!.digest);
  });

  it('scopes tokens to a registry and its repositories, and refuses forged ones', async () => {
    const { token, url } = await check('nginx:1.27');
    const other = `${baseUrl('registry-1.docker.io')}/v2/library/redis/manifests/7`;
    const wrongRepo = await fetch(other, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    expect(wrongRepo.status).toBe(401);
    expect(parseChallenge(wrongRepo.headers.get('www-authenticate'))).toMatchObject({ scope: 'repository:library/redis:pull', error: 'insufficient_scope' });

    const ghcr = await check('ghcr.io/example/sidecar:v1');
    const wrongRegistry = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${ghcr.token}` } });
    expect(parseChallenge(wrongRegistry.headers.get('www-authenticate')).error).toBe('invalid_token');

    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    expect((await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('never grants a private repository anonymously', async () => {
    registry.putImage('ghcr.io/example/internal-tool:v2', { format: 'oci', private: true });
    const { res, challenge } = await check('ghcr.io/example/internal-tool:v2');
    expect(res.status).toBe(401);
    expect(parseChallenge(res.headers.get('www-authenticate'))).toMatchObject({ scope: challenge.scope, error: 'insufficient_scope' });
    expect(registry.deleteRepository('ghcr.io/example/internal-tool:v2')).toBe(true);
  });

  it('records what was asked', () => {
    const tokenCalls = registry.requests.filter((r) => r.host === 'auth.docker.io');
    expect(tokenCalls.length).toBeGreaterThan(0);
    expect(tokenCalls.every((r) => r.method === 'GET' && r.path.startsWith('/auth.docker.io/token?') && r.status === 200)).toBe(true);
  });
});
