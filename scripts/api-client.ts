/**
 * A client of the bot's signed API (POST /api/runs, POST /api/deploys, GET /api/runs/{id}) for
 * the command line: each request signed with SigV4 for service `execute-api` by the SDK's own
 * signer (@smithy/signature-v4) with the caller's AWS credentials, sent with Node's fetch.
 *
 * Retries: a request that got no answer (network error, timeout), a 5xx or a 429 is sent again,
 * signed again, with the same body, so a POST carries the same idempotency key each time and the
 * API runs it at most once.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from '../src/platform/sha256';

/** The API answered with an error: its status, and its JSON `error` and `message` when it gave them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** No answer from the API (network, DNS, TLS, timeout) or only 5xx/429 after every retry. */
export class ApiUnreachableError extends Error {}

/** No AWS credentials to sign with. */
export class CredentialsError extends Error {}

export interface ApiClientOptions {
  /** The API's base URL: `https://<api-id>.execute-api.<region>.amazonaws.com` (a custom domain's base path is kept). */
  endpoint: URL;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts per request, the first included. */
  attempts?: number;
  /** How long one attempt may take before it is abandoned (and retried). */
  requestTimeoutMs?: number;
}

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The longest Retry-After honoured between attempts: a longer one is reported, not waited out. */
const MAX_RETRY_AFTER_MS = 60_000;
const RETRIED_STATUSES = new Set([429, 500, 502, 503, 504]);

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createApiClient(options: ApiClientOptions) {
  const send = options.fetch ?? fetch;
  const sleep = options.sleep ?? realSleep;
  const attempts = options.attempts ?? 4;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: 'execute-api', sha256: NodeSha256 });
  const basePath = options.endpoint.pathname.replace(/\/+$/, '');

  async function signed(method: string, path: string, body: string | undefined) {
    const url = new URL(options.endpoint);
    url.pathname = `${basePath}${path}`;
    const headers: Record<string, string> = {
      host: url.host,
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    let request: Awaited<ReturnType<typeof signer.sign>>;
    try {
      request = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: {},
        headers,
        ...(body !== undefined ? { body } : {}),
      });
    } catch (error) {
      throw new CredentialsError(`no AWS credentials to sign with: ${(error as Error).message}`);
    }
    // fetch sets Host from the URL itself (it may not be given): the same value that was signed.
    const { host: _, ...sent } = request.headers;
    return { url, headers: sent };
  }

  /** One request, retried as the module says; an error answer throws ApiError. */
  async function request(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<ApiAnswer> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const { url, headers } = await signed(method, path, text);
      let res: Response;
      try {
        res = await send(url, { method, headers, ...(text !== undefined ? { body: text } : {}), signal: AbortSignal.timeout(requestTimeoutMs) });
      } catch (error) {
        lastProblem = describeFetchError(error, url);
        if (attempt < attempts) await sleep(backoffMs(attempt));
        continue;
      }
      const answer = await readAnswer(res);
      if (res.ok) return answer;
      const code = typeof answer.body.error === 'string' ? answer.body.error : undefined;
      const message = typeof answer.body.message === 'string' ? answer.body.message : `HTTP ${res.status} from ${url.origin}`;
      if (!RETRIED_STATUSES.has(res.status)) throw new ApiError(res.status, code, message);
      lastProblem = `${res.status}: ${message}`;
      const retryAfterMs = Number(res.headers.get('retry-after') ?? '') * 1000;
      if (res.status === 429 && retryAfterMs > MAX_RETRY_AFTER_MS) throw new ApiError(429, code, message);
      if (attempt < attempts) await sleep(retryAfterMs > 0 ? retryAfterMs : backoffMs(attempt));
      else if (res.status === 429) throw new ApiError(429, code, message);
    }
    throw new ApiUnreachableError(`no answer from ${options.endpoint.origin} after ${attempts} attempts (${lastProblem})`);
  }

  return { request };
}

/** 0.5 s, 1 s, 2 s, … */
const backoffMs = (attempt: number) => 500 * 2 ** (attempt - 1);

async function readAnswer(res: Response): Promise<ApiAnswer> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as unknown;
    return { status: res.status, body: body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {} };
  } catch {
    return { status: res.status, body: {} };
  }
}

function describeFetchError(error: unknown, url: URL): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `${url.origin} did not answer in time`;
  return e.cause?.code ? `${e.cause.code} ${url.host}` : (e.cause?.message ?? e.message);
}
