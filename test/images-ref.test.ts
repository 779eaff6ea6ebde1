/**
 * Image references (src/ecs/images.ts): Docker's reference grammar as ECS accepts it, ECR registry
 * hosts, and the anonymous registry v2 manifest probe against a small local registry.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatImageRef,
  ImageReferenceError,
  MANIFEST_ACCEPT,
  manifestReference,
  parseChallenge,
  parseImageRef,
  probeManifest,
  registryBaseUrl,
  REGISTRY_ENDPOINTS_ENV,
  shortImageName,
  tryParseImageRef,
  withImageReference,
} from '../src/ecs/images';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseImageRef', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', kind: 'docker-hub' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', kind: 'docker-hub' }],
    ['library/nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['docker.io/library/nginx:1', { registry: 'docker.io', repository: 'library/nginx', tag: '1' }],
    ['index.docker.io/bitnami/redis:7.2', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2' }],
    ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', kind: 'docker-hub' }],
    [
      'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable',
      { registry: 'public.ecr.aws', repository: 'aws-observability/aws-for-fluent-bit', tag: 'stable', kind: 'ecr-public' },
    ],
    ['ghcr.io/octo-org/app:sha-1a2b3c', { registry: 'ghcr.io', repository: 'octo-org/app', tag: 'sha-1a2b3c', kind: 'ghcr' }],
    ['quay.io/prometheus/node-exporter:v1.8.2', { registry: 'quay.io', repository: 'prometheus/node-exporter', tag: 'v1.8.2', kind: 'quay' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app', kind: 'other' }],
    ['localhost/app:dev', { registry: 'localhost', repository: 'app', tag: 'dev' }],
    ['registry.example.com:8443/team/app:1.0.0', { registry: 'registry.example.com:8443', repository: 'team/app', tag: '1.0.0', kind: 'other' }],
    ['Registry.Example.com/app', { registry: 'registry.example.com', repository: 'app' }],
  ])('%s', (text, expected) => {
    const ref = parseImageRef(text);
    expect(ref).toMatchObject({ raw: text, ...expected });
    if (!('tag' in expected)) expect(ref.tag).toBeUndefined();
    expect(ref.digest).toBeUndefined();
    expect(ref.ecr).toBeUndefined();
  });

  it('reads tags and digests, alone and together', () => {
    expect(parseImageRef(`nginx@${DIGEST}`)).toMatchObject({ repository: 'library/nginx', digest: DIGEST });
    expect(parseImageRef(`nginx@${DIGEST}`).tag).toBeUndefined();
    expect(parseImageRef(`localhost:5000/app:v2@${DIGEST}`)).toMatchObject({ registry: 'localhost:5000', repository: 'app', tag: 'v2', digest: DIGEST });
    // A port is not a tag.
    expect(parseImageRef('localhost:5000/app').tag).toBeUndefined();
  });

  it('recognises private ECR registries, with account, region, partition and repository ARN', () => {
    expect(parseImageRef('111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.4.2')).toEqual({
      raw: '111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.4.2',
      registry: '111111111111.dkr.ecr.us-east-1.amazonaws.com',
      repository: 'web',
      tag: 'v1.4.2',
      kind: 'ecr',
      ecr: { registryId: '111111111111', region: 'us-east-1', partition: 'aws', repositoryArn: 'arn:aws:ecr:us-east-1:111111111111:repository/web' },
    });
    expect(parseImageRef('222222222222.dkr.ecr.us-west-2.amazonaws.com/shared/base:node20').ecr).toEqual({
      registryId: '222222222222',
      region: 'us-west-2',
      partition: 'aws',
      repositoryArn: 'arn:aws:ecr:us-west-2:222222222222:repository/shared/base',
    });
    expect(parseImageRef('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1').ecr).toMatchObject({
      region: 'cn-north-1',
      partition: 'aws-cn',
      repositoryArn: 'arn:aws-cn:ecr:cn-north-1:123456789012:repository/app',
    });
    expect(parseImageRef('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app').ecr).toMatchObject({ region: 'us-gov-west-1', partition: 'aws-us-gov' });
    expect(parseImageRef('123456789012.dkr-ecr.eu-west-1.on.aws/app:1').ecr).toMatchObject({ registryId: '123456789012', region: 'eu-west-1' });
    // An ECR pull-through cache repository is an ordinary private repository name.
    expect(parseImageRef('123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/nginx:1.27')).toMatchObject({
      kind: 'ecr',
      repository: 'docker-hub/library/nginx',
    });
    // Look-alikes are not ECR.
    expect(parseImageRef('12345.dkr.ecr.us-east-1.amazonaws.com/app').kind).toBe('other');
    expect(parseImageRef('123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app').kind).toBe('other');
  });

  it.each([
    ['', 'it is empty'],
    ['   ', 'it is empty'],
    ['nginx latest', 'it contains spaces'],
    ['Nginx', 'lower-case'],
    ['docker.io/Library/nginx', 'lower-case'],
    ['web:', 'not a valid tag'],
    ['web:-dev', 'not a valid tag'],
    [`web:${'x'.repeat(129)}`, 'not a valid tag'],
    ['web@sha256:abc', 'not a digest'],
    [`web@sha256:${'a'.repeat(63)}`, 'exactly 64'],
    [`web@sha256:${'a'.repeat(65)}`, 'exactly 64'],
    ['registry.example.com/', 'repository name is missing'],
    [':tag', 'repository name is missing'],
    ['app//x', '(empty)'],
    ['app/-x', 'lower-case letters and digits'],
    ['my_host.example.com/app', 'not a registry host name'],
  ])('rejects %j (%s)', (text, reason) => {
    const error = (() => {
      try {
        parseImageRef(text);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ImageReferenceError);
    expect((error as ImageReferenceError).message).toContain(reason);
    expect(tryParseImageRef(text)).toBeUndefined();
  });

  it('formats references back, short for messages and in full for task definitions', () => {
    const cases: Array<[string, string, string]> = [
      ['nginx', 'nginx', 'nginx'],
      ['docker.io/library/nginx:1.27', 'nginx:1.27', 'nginx:1.27'],
      ['bitnami/redis:7', 'bitnami/redis:7', 'bitnami/redis:7'],
      ['111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1', 'web:v1', '111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1'],
      ['public.ecr.aws/nginx/nginx:stable', 'public.ecr.aws/nginx/nginx:stable', 'public.ecr.aws/nginx/nginx:stable'],
      [`ghcr.io/o/app:v1@${DIGEST}`, `ghcr.io/o/app:v1@${DIGEST}`, `ghcr.io/o/app:v1@${DIGEST}`],
    ];
    for (const [text, short, full] of cases) {
      const ref = parseImageRef(text);
      expect(shortImageName(ref)).toBe(short);
      expect(formatImageRef(ref)).toBe(full);
    }
    expect(manifestReference(parseImageRef('nginx'))).toBe('latest');
    expect(manifestReference(parseImageRef('nginx:1'))).toBe('1');
    expect(manifestReference(parseImageRef(`nginx:1@${DIGEST}`))).toBe(DIGEST);
  });

  it('swaps the tag or digest for a deploy, dropping a digest that would win', () => {
    const current = `111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.4.2@${DIGEST}`;
    expect(withImageReference(current, 'v1.5.0')).toBe('111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.5.0');
    expect(withImageReference(current, ':v1.5.0')).toBe('111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.5.0');
    const other = `sha256:${'cd'.repeat(32)}`;
    expect(withImageReference(current, other)).toBe(`111111111111.dkr.ecr.us-east-1.amazonaws.com/web@${other}`);
    expect(withImageReference('nginx:1.26', '1.27')).toBe('nginx:1.27');
    expect(() => withImageReference('nginx', 'not a tag')).toThrow(ImageReferenceError);
  });
});

describe('registry endpoints', () => {
  it('defaults to https://<host>, Docker Hub at registry-1.docker.io', () => {
    expect(registryBaseUrl('ghcr.io', {})).toBe('https://ghcr.io');
    expect(registryBaseUrl('docker.io', {})).toBe('https://registry-1.docker.io');
    expect(registryBaseUrl('localhost:5000', {})).toBe('https://localhost:5000');
  });

  it(`takes overrides from ${REGISTRY_ENDPOINTS_ENV}`, () => {
    const env = { [REGISTRY_ENDPOINTS_ENV]: JSON.stringify({ 'public.ecr.aws': 'http://127.0.0.1:5005/', 'docker.io': 'http://127.0.0.1:5006' }) };
    expect(registryBaseUrl('public.ecr.aws', env)).toBe('http://127.0.0.1:5005');
    expect(registryBaseUrl('docker.io', env)).toBe('http://127.0.0.1:5006');
    expect(registryBaseUrl('quay.io', env)).toBe('https://quay.io');
    expect(registryBaseUrl('docker.io', { [REGISTRY_ENDPOINTS_ENV]: JSON.stringify({ 'registry-1.docker.io': 'http://127.0.0.1:5007' }) })).toBe(
      'http://127.0.0.1:5007',
    );
    expect(() => registryBaseUrl('quay.io', { [REGISTRY_ENDPOINTS_ENV]: 'nope' })).toThrow(/not JSON/);
  });

  it('parses Bearer challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"')).toEqual({
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/nginx:pull',
    });
    expect(parseChallenge('Bearer realm="https://ghcr.io/token"')).toEqual({ realm: 'https://ghcr.io/token' });
    expect(parseChallenge('Basic realm="Registry"')).toBeUndefined();
    expect(parseChallenge('Bearer realm="file:///etc/passwd"')).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });
});

describe('probeManifest against a local registry', () => {
  let server: Server;
  let base: string;
  let env: NodeJS.ProcessEnv;
  const requests: Array<{ method: string; path: string; accept?: string; authorization?: string }> = [];
  const TOKEN = 'anonymous-pull-token';

  beforeAll(async () => {
    // Docker Hub's flow: 401 with a Bearer challenge, anonymous token, then the manifest.
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push({ method: req.method ?? '', path: url.pathname + url.search, accept: req.headers.accept, authorization: req.headers.authorization });
      if (url.pathname === '/token') {
        if (url.searchParams.get('scope')?.includes('private/')) return res.writeHead(401).end();
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
      }
      const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
      if (!m) return res.writeHead(404).end();
      const [, name, reference] = m as unknown as [string, string, string];
      if (name === 'slow/app') return void setTimeout(() => res.writeHead(200).end(), 2_000);
      if (name === 'broken/app') return res.writeHead(503).end();
      if (name === 'nohead/app' && req.method === 'HEAD') return res.writeHead(405).end();
      if (req.headers.authorization !== `Bearer ${TOKEN}` && name !== 'nohead/app') {
        return res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="local-registry",scope="repository:${name}:pull"` }).end();
      }
      if (['library/nginx', 'nohead/app'].includes(name) && ['1.27', DIGEST].includes(decodeURIComponent(reference))) {
        return res
          .writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': 'application/vnd.oci.image.index.v1+json' })
          .end(req.method === 'GET' ? '{}' : undefined);
      }
      return res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = { [REGISTRY_ENDPOINTS_ENV]: JSON.stringify({ 'docker.io': base, 'registry.test': base }) };
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // the slow answer still pending
    await closed;
  });

  it('finds a tag after the anonymous token dance, asking for every manifest kind', async () => {
    requests.length = 0;
    expect(await probeManifest(parseImageRef('nginx:1.27'), { env })).toEqual({
      status: 'found',
      digest: DIGEST,
      mediaType: 'application/vnd.oci.image.index.v1+json',
    });
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /v2/library/nginx/manifests/1.27',
      'GET /token?service=local-registry&scope=repository%3Alibrary%2Fnginx%3Apull',
      'HEAD /v2/library/nginx/manifests/1.27',
    ]);
    expect(requests[0]!.accept).toBe(MANIFEST_ACCEPT);
    expect(requests[0]!.authorization).toBeUndefined();
    expect(requests[2]!.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('finds a digest, and reports a missing tag', async () => {
    expect((await probeManifest(parseImageRef(`nginx@${DIGEST}`), { env })).status).toBe('found');
    expect(await probeManifest(parseImageRef('nginx:9.99'), { env })).toEqual({
      status: 'missing',
      detail: '`docker.io` has no manifest `9.99` in `library/nginx`',
    });
  });

  it('says when anonymous pulls are refused', async () => {
    expect(await probeManifest(parseImageRef('registry.test/private/app:1'), { env })).toMatchObject({
      status: 'denied',
      detail: expect.stringContaining('no anonymous pull token'),
    });
  });

  it('falls back to GET where HEAD is not allowed', async () => {
    expect((await probeManifest(parseImageRef('registry.test/nohead/app:1.27'), { env })).status).toBe('found');
  });

  it('never reports an unanswered question as found', async () => {
    expect(await probeManifest(parseImageRef('registry.test/slow/app:1'), { env, timeoutMs: 200 })).toEqual({
      status: 'unreachable',
      reason: 'no answer within 0.2 s',
    });
    expect(await probeManifest(parseImageRef('registry.test/broken/app:1'), { env })).toEqual({
      status: 'unreachable',
      reason: 'HTTP 503 Service Unavailable',
    });
    // A port that was free a moment ago: nothing listens there.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const closed = { [REGISTRY_ENDPOINTS_ENV]: JSON.stringify({ 'registry.test': `http://127.0.0.1:${port}` }) };
    expect(await probeManifest(parseImageRef('registry.test/app:1'), { env: closed })).toEqual({
      status: 'unreachable',
      reason: 'connection refused (ECONNREFUSED)',
    });
  });
});
