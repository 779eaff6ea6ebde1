/**
 * API Gateway's HTTP API, as far as the bot's routes need it: the routes serverless.yml declares,
 * each invoking its function with a payload 2.0 event, and IAM authorization (`authorizer: { type:
 * aws_iam }`) done as API Gateway does it: the request's SigV4 signature recomputed for service
 * `execute-api` with the caller's secret key (@smithy/signature-v4, the SDK's own signer), the
 * access key resolved to its IAM principal in the emulator, `execute-api:Invoke` on the route's ARN
 * (arn:aws:execute-api:region:account:apiId/stage/METHOD/path) evaluated against the caller's
 * identity policies (HTTP APIs have no resource policies, so a caller from another account is
 * refused), and `requestContext.authorizer.iam` filled in for the function.
 *
 * Refusals carry API Gateway's 403 bodies (API Gateway developer guide, "troubleshoot signature
 * mismatch errors with IAM authentication"): an unsigned request `{"message":"Forbidden"}`, an
 * unknown access key, a wrong signature, an old timestamp or an expired session each their message.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpResult } from '../../src/ingress/http';
import { NodeSha256 } from '../../src/platform/sha256';
import { evaluate } from './policy';
import { roleDocuments } from './services/iam';
import type { EmulatorState } from './state';

export interface HttpApiRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  query?: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpApiRoute {
  method: string;
  /** As declared: `/api/runs/{id}`. */
  path: string;
  /** `authorizer: { type: aws_iam }`. */
  iam: boolean;
  functionName: string;
}

export interface HttpApiOptions {
  state: EmulatorState;
  apiId: string;
  region: string;
  /** The account the API belongs to. */
  accountId: string;
  routes: HttpApiRoute[];
  invoke(functionName: string, event: Record<string, unknown>): Promise<HttpResult>;
  /** Emulator time, for session expiry (the signature's window follows the wall clock, as signers do). */
  clockNow?: () => number;
}

export const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
export const INVALID_TOKEN = 'The security token included in the request is invalid.';
export const EXPIRED_TOKEN = 'The security token included in the request is expired';
const FIVE_MINUTES = 5 * 60_000;

/**
 * API Gateway's error type header per refusal (the knowledge-center table "troubleshoot HTTP 403
 * errors from API Gateway"): AccessDeniedException for a caller IAM refuses or a key it does not
 * know, InvalidSignatureException for a signature that does not match or has expired,
 * ForbiddenException for a plain "Forbidden". An expired session's type is not in that table:
 * ExpiredTokenException, as AWS's other endpoints name it (unverified for API Gateway).
 */
type ErrorType = 'ForbiddenException' | 'AccessDeniedException' | 'InvalidSignatureException' | 'ExpiredTokenException' | 'NotFoundException';

const reply = (statusCode: number, body: unknown, errorType: ErrorType = statusCode === 403 ? 'ForbiddenException' : 'NotFoundException'): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'x-amzn-errortype': errorType },
  body: JSON.stringify(body),
});

const amzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
const fromAmzDate = (text: string): number | undefined => {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(text);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
};

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Signs a request as an SDK (or `curl --aws-sigv4`) does, for service execute-api. */
export async function signHttpApiRequest(
  request: HttpApiRequest & { host: string },
  credentials: Credentials,
  region: string,
  signingDate = new Date(),
): Promise<HttpApiRequest> {
  const signer = new SignatureV4({ credentials, region, service: 'execute-api', sha256: NodeSha256 });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: request.host,
      path: request.path,
      query: Object.fromEntries(new URLSearchParams(request.query ?? '')),
      headers: { ...request.headers, host: request.host },
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    { signingDate },
  );
  return { ...request, headers: signed.headers as Record<string, string> };
}

/** Route key match: `{name}` is one path segment. */
function matchRoute(route: HttpApiRoute, method: string, path: string): Record<string, string> | undefined {
  if (route.method !== method && route.method !== 'ANY') return undefined;
  const names: string[] = [];
  const pattern = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  const m = new RegExp(`^${pattern}$`).exec(path);
  return m ? Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) : undefined;
}

export function localHttpApi(options: HttpApiOptions) {
  const { state, apiId, region, accountId } = options;
  const clockNow = options.clockNow ?? Date.now;
  const host = `${apiId}.execute-api.${region}.amazonaws.com`;
  const routeArn = (method: string, path: string) => `arn:aws:execute-api:${region}:${accountId}:${apiId}/$default/${method}${path}`;

  async function handle(request: HttpApiRequest): Promise<HttpResult> {
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    let route: HttpApiRoute | undefined;
    let pathParameters: Record<string, string> | undefined;
    for (const r of options.routes) {
      pathParameters = matchRoute(r, request.method, request.path);
      if (pathParameters) {
        route = r;
        break;
      }
    }
    if (!route) return reply(404, { message: 'Not Found' });

    let iam: Record<string, unknown> | undefined;
    if (route.iam) {
      const checked = await authenticate(request, headers);
      if ('refused' in checked) return checked.refused;
      const { identity, accessKeyId } = checked;
      const resource = routeArn(request.method, request.path);
      const documents = identity.roleArn ? roleDocuments(state, identity.roleArn) : undefined;
      const decision = documents
        ? evaluate(
            documents.policies,
            {
              action: 'execute-api:Invoke',
              resource,
              principalArn: identity.roleArn!,
              principalAccount: identity.accountId,
              context: { 'aws:PrincipalAccount': [identity.accountId], 'aws:PrincipalArn': [identity.roleArn!], 'aws:userid': [identity.principalId] },
            },
            { resourceOwner: accountId },
          ).decision
        : 'implicitDeny';
      if (decision !== 'allowed') {
        const why =
          decision === 'explicitDeny'
            ? 'with an explicit deny in an identity-based policy'
            : 'because no identity-based policy allows the execute-api:Invoke action';
        return reply(
          403,
          { message: `User: ${identity.arn} is not authorized to perform: execute-api:Invoke on resource: ${resource} ${why}` },
          'AccessDeniedException',
        );
      }
      iam = {
        accessKey: accessKeyId,
        accountId: identity.accountId,
        callerId: identity.principalId,
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: identity.arn,
        userId: identity.principalId,
      };
    }

    const now = Date.now();
    const event = {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: request.path,
      rawQueryString: request.query ?? '',
      headers,
      ...(request.query ? { queryStringParameters: Object.fromEntries(new URLSearchParams(request.query)) } : {}),
      ...(pathParameters && Object.keys(pathParameters).length ? { pathParameters } : {}),
      body: request.body ?? null,
      isBase64Encoded: false,
      requestContext: {
        accountId,
        apiId,
        domainName: host,
        domainPrefix: apiId,
        http: { method: request.method, path: request.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        requestId: randomUUID(),
        routeKey: `${route.method} ${route.path}`,
        stage: '$default',
        time: new Date(now).toUTCString(),
        timeEpoch: now,
        ...(iam ? { authorizer: { iam } } : {}),
      },
    };
    return options.invoke(route.functionName, event);
  }

  type Checked = { identity: NonNullable<ReturnType<typeof state.credentials.get>>['identity']; accessKeyId: string } | { refused: HttpResult };

  async function authenticate(request: HttpApiRequest, headers: Record<string, string>): Promise<Checked> {
    const authorization = headers.authorization;
    if (!authorization) return { refused: reply(403, { message: 'Forbidden' }) };
    const parsed =
      /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!parsed) return { refused: reply(403, { message: 'Forbidden' }) };
    const [, accessKeyId, , signedRegion, service, signedHeaders, signature] = parsed as unknown as string[];
    const credentials = state.credentials.get(accessKeyId!);
    if (!credentials) return { refused: reply(403, { message: INVALID_TOKEN }, 'AccessDeniedException') };
    if (credentials.sessionToken && headers['x-amz-security-token'] !== credentials.sessionToken)
      return { refused: reply(403, { message: INVALID_TOKEN }, 'AccessDeniedException') };
    const stamp = headers['x-amz-date'] ?? '';
    const signedAt = fromAmzDate(stamp);
    if (signedAt === undefined || service !== 'execute-api' || signedRegion !== region || !signedHeaders!.split(';').includes('host'))
      return { refused: reply(403, { message: SIGNATURE_MISMATCH }, 'InvalidSignatureException') };
    // A signed payload hash must be the body's: the signature covers the header, the header the body.
    const claimed = headers['x-amz-content-sha256'];
    if (
      claimed &&
      claimed !== 'UNSIGNED-PAYLOAD' &&
      claimed !==
        createHash('sha256')
          .update(request.body ?? '')
          .digest('hex')
    )
      return { refused: reply(403, { message: SIGNATURE_MISMATCH }, 'InvalidSignatureException') };
    // Recomputed over exactly the headers the caller signed, at the time it signed.
    const names = new Set(signedHeaders!.split(';'));
    const toSign = Object.fromEntries(Object.entries(headers).filter(([k]) => names.has(k) && k !== 'authorization'));
    const again = await signHttpApiRequest(
      {
        method: request.method,
        path: request.path,
        ...(request.query ? { query: request.query } : {}),
        headers: toSign,
        ...(request.body !== undefined ? { body: request.body } : {}),
        host: headers.host ?? '',
      },
      credentials,
      region,
      new Date(signedAt),
    );
    const expected = /Signature=([0-9a-f]{64})/.exec(again.headers.authorization ?? '')?.[1];
    if (expected !== signature) return { refused: reply(403, { message: SIGNATURE_MISMATCH }, 'InvalidSignatureException') };
    const now = Date.now();
    if (Math.abs(now - signedAt) > FIVE_MINUTES) {
      const [bound, side] = signedAt < now ? [amzDate(now - FIVE_MINUTES), '-'] : [amzDate(now + FIVE_MINUTES), '+'];
      const relation = signedAt < now ? 'earlier' : 'later';
      return {
        refused: reply(
          403,
          { message: `Signature expired: ${stamp} is now ${relation} than ${bound} (${amzDate(now)} ${side} 5 min.)` },
          'InvalidSignatureException',
        ),
      };
    }
    const { identity } = credentials;
    if (identity.expiration && clockNow() >= identity.expiration.getTime()) return { refused: reply(403, { message: EXPIRED_TOKEN }, 'ExpiredTokenException') };
    return { identity, accessKeyId: accessKeyId! };
  }

  return { handle, host, routeArn };
}

/**
 * The local HTTP API on a real port of this machine, as API Gateway serves it on its own host:
 * for clients that speak HTTP themselves (the command line, `ecs-chatops run … --endpoint`).
 */
export async function serveHttpApi(api: Pick<ReturnType<typeof localHttpApi>, 'handle'>, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void forward(req)
      .then((result) => {
        res.writeHead(result.statusCode, result.headers ?? {});
        res.end(result.body);
      })
      .catch((error: Error) => {
        // API Gateway's answer when its integration fails.
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal Server Error' }));
        console.error('local HTTP API:', error);
      });
  });

  async function forward(req: IncomingMessage): Promise<HttpResult> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
    return api.handle({
      method: req.method ?? 'GET',
      path: url.pathname,
      ...(url.search ? { query: url.search.slice(1) } : {}),
      headers,
      ...(body ? { body } : {}),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
