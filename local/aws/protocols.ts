/**
 * Wire protocols: how a request names its service and action, where its parameters are, and how
 * results and errors must look for the SDK's deserializers (@aws-sdk/core/protocols) to accept them.
 *
 *  - JSON 1.1 (ECS, SSM; later ECR, Logs, Secrets Manager, KMS): POST /, `X-Amz-Target: <Target>.<Action>`,
 *    JSON body; errors `{"__type": Code, "message"}` with HTTP 400; timestamps as epoch seconds.
 *  - Query (STS; later IAM, ELBv2, and EC2's variant): form body `Action=…&Version=…&Tags.member.1.Key=…`;
 *    XML `<ActionResponse><ActionResult>…` and `<ErrorResponse><Error><Type>Sender</Type><Code>…`.
 *  - REST-JSON (Lambda): the route (method + path template) names the action; headers, path and
 *    body carry the members; errors use `x-amzn-ErrorType` plus a JSON body.
 *
 * Service modules only see parsed params and return plain objects; everything else is here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { SourcePolicy } from './policy';
import type { Clock, EmulatorState, Identity, RegionState } from './state';

export type Protocol = 'json' | 'query' | 'rest-json';
export type Params = Record<string, any>;

export interface CallContext {
  requestId: string;
  service: ServiceDefinition;
  action: string;
  identity: Identity;
  /** The caller's account and the region the request was signed for. */
  accountId: string;
  region: string;
  regional: RegionState;
  state: EmulatorState;
  clock: Clock;
  /** The local Lambda function that made the call, if any (see function-context.ts). */
  functionName?: string;
  /**
   * Throws AccessDenied, as the service would, when IAM refuses `action` on `resource` for the
   * caller: an injected fault, or the policies of an enforced role (authorization.ts). Services
   * call it again for what a request implies beyond its own action (iam:PassRole for the roles a
   * task definition names, kms:Decrypt when SSM decrypts on the caller's behalf), with the
   * condition keys that request carries and, where AWS consults one, the resource's own policy.
   */
  authorize(action: string, resource: string, options?: AuthorizeOptions): void;
}

export interface AuthorizeOptions {
  /** Request condition keys and their values (key names as IAM spells them). */
  context?: Record<string, string[]>;
  resourcePolicy?: SourcePolicy;
  resourceOwner?: string;
}

export type Handler = (params: Params, ctx: CallContext) => unknown;
/**
 * `resources` names what IAM evaluates the action against (default `*`) before the handler runs;
 * `iamAction` is for the few APIs whose permission is spelled differently (Invoke → lambda:InvokeFunction).
 */
export type ActionDefinition =
  | Handler
  | {
      handler: Handler;
      resources?: (params: Params, ctx: CallContext) => string[];
      /** What else IAM weighs for `resource`: request condition keys, the resource's own policy (a key policy). */
      authorization?: (params: Params, ctx: CallContext, resource: string) => AuthorizeOptions | undefined;
      iamAction?: string;
    };

export interface RestRequest {
  path: Record<string, string>;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
export interface RestRoute {
  method: string;
  /** `/2015-03-31/functions/{FunctionName}/invocations` */
  path: string;
  action: string;
  /** Maps the HTTP bindings to the operation's input members (what handlers and `calls` see). */
  input: (request: RestRequest) => Params;
}
/** What a REST action handler returns: the status, headers and payload are the response. */
export interface RestResult {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface ServiceDefinition {
  /** IAM/SigV4 prefix: `ecs`, `ssm`, `sts`, `lambda`. */
  name: string;
  protocol: Protocol;
  /** JSON: the X-Amz-Target prefix, e.g. `AmazonEC2ContainerServiceV20141113`. */
  target?: string;
  /** Query: the API `Version` form field, e.g. `2011-06-15`, and the response namespace. */
  version?: string;
  xmlNamespace?: string;
  /** EC2's query dialect: no `…Result` wrapper, `<item>` lists, `<Response><Errors>` errors. */
  ec2?: boolean;
  routes?: RestRoute[];
  actions: Record<string, ActionDefinition>;
  /** Per-service spellings of the common errors where they differ from the protocol default. */
  errors?: Partial<Record<CommonError, [code: string, status: number]>>;
  /**
   * An awsQueryCompatible service (CloudWatch): errors named by their JSON shape (handlers throw
   * `InvalidParameterValueException`) have a query code (`InvalidParameterValue`). JSON answers carry
   * it in `x-amzn-query-error: <code>;Sender`, which the SDK reads; query answers use it as the code.
   */
  awsQueryErrors?: Record<string, string>;
}

/** Failures every service can produce; their code and HTTP status depend on protocol and service. */
export type CommonError =
  | 'AccessDenied'
  | 'Throttling'
  | 'ExpiredToken'
  | 'InvalidToken'
  | 'MissingAuthentication'
  | 'UnknownOperation'
  | 'Validation'
  | 'Internal';

const COMMON_ERRORS: Record<Protocol, Record<CommonError, [string, number]>> = {
  json: {
    AccessDenied: ['AccessDeniedException', 400],
    Throttling: ['ThrottlingException', 400],
    ExpiredToken: ['ExpiredTokenException', 400],
    InvalidToken: ['UnrecognizedClientException', 400],
    MissingAuthentication: ['MissingAuthenticationTokenException', 400],
    UnknownOperation: ['UnknownOperationException', 400],
    Validation: ['ValidationException', 400],
    Internal: ['InternalFailure', 500],
  },
  query: {
    AccessDenied: ['AccessDenied', 403],
    Throttling: ['Throttling', 400],
    ExpiredToken: ['ExpiredToken', 403],
    InvalidToken: ['InvalidClientTokenId', 403],
    MissingAuthentication: ['MissingAuthenticationToken', 403],
    UnknownOperation: ['InvalidAction', 400],
    Validation: ['ValidationError', 400],
    Internal: ['InternalFailure', 500],
  },
  'rest-json': {
    AccessDenied: ['AccessDeniedException', 403],
    Throttling: ['TooManyRequestsException', 429],
    ExpiredToken: ['ExpiredTokenException', 403],
    InvalidToken: ['UnrecognizedClientException', 403],
    MissingAuthentication: ['MissingAuthenticationTokenException', 403],
    UnknownOperation: ['UnknownOperationException', 404],
    Validation: ['ValidationException', 400],
    Internal: ['ServiceException', 500],
  },
};

/** An error the caller should see as an AWS service error. */
export class AwsError extends Error {
  /** Set when the request could not be matched to a service, to answer in the caller's dialect. */
  protocol?: Protocol;
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra members of the error shape (e.g. Lambda's `Type`). */
    readonly fields: Record<string, unknown> = {},
    readonly common?: CommonError,
  ) {
    super(message);
    this.name = code;
  }
  static common(kind: CommonError, message: string): AwsError {
    return new AwsError(kind, message, 400, {}, kind);
  }
  /** Code and status as this service spells them. */
  resolve(service: ServiceDefinition | undefined, protocol: Protocol = service?.protocol ?? 'json'): [string, number] {
    if (!this.common) return [this.code, this.status];
    return service?.errors?.[this.common] ?? COMMON_ERRORS[protocol][this.common];
  }
}

export interface RawRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Operation {
  service: ServiceDefinition;
  action: string;
  params: Params;
}

/** Finds the service and action a request is for, or throws UnknownOperation in the right dialect. */
export function resolveOperation(services: ServiceDefinition[], req: RawRequest): Operation {
  const target = header(req.headers, 'x-amz-target');
  if (target) {
    const dot = target.lastIndexOf('.');
    const service = services.find((s) => s.protocol === 'json' && s.target === target.slice(0, dot));
    const action = target.slice(dot + 1);
    if (!service || !(action in service.actions)) throw AwsError.common('UnknownOperation', `Unknown operation ${target}`);
    const text = req.body.toString('utf8');
    let params: Params;
    try {
      params = text ? JSON.parse(text) : {};
    } catch {
      throw new AwsError('SerializationException', 'Request body is not valid JSON');
    }
    return { service, action, params };
  }

  const contentType = header(req.headers, 'content-type') ?? '';
  const form = contentType.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(req.body.toString('utf8')) : req.query;
  const action = form.get('Action');
  if (action) {
    const version = form.get('Version');
    const service = services.find((s) => s.protocol === 'query' && s.version === version);
    if (!service || !(action in service.actions)) {
      const err = AwsError.common('UnknownOperation', `Could not find operation ${action} for version ${version}`);
      throw Object.assign(err, { protocol: 'query' as const });
    }
    return { service, action, params: parseQueryParams(form) };
  }

  for (const service of services) {
    for (const route of service.routes ?? []) {
      const path = matchPath(route.path, req.path);
      if (route.method !== req.method || !path) continue;
      const query = Object.fromEntries(req.query);
      return { service, action: route.action, params: route.input({ path, query, headers: req.headers, body: req.body }) };
    }
  }
  throw Object.assign(AwsError.common('UnknownOperation', `No operation matches ${req.method} ${req.path}`), {
    protocol: 'rest-json' as const,
  });
}

export interface SigV4 {
  accessKeyId: string;
  region: string;
  signingService: string;
  sessionToken?: string;
}

/** Reads who signed the request; the signature itself is not verified. */
export function parseSigV4(req: RawRequest): SigV4 | undefined {
  const auth = header(req.headers, 'authorization');
  const credential = auth ? /Credential=([^,\s]+)/.exec(auth)?.[1] : (req.query.get('X-Amz-Credential') ?? undefined); // presigned URL
  if (!credential) return undefined;
  const [accessKeyId = '', , region = '', signingService = ''] = credential.split('/');
  const sessionToken = header(req.headers, 'x-amz-security-token') ?? req.query.get('X-Amz-Security-Token') ?? undefined;
  return { accessKeyId, region, signingService, ...(sessionToken ? { sessionToken } : {}) };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export function serializeResult(op: Operation, result: unknown, requestId: string): HttpReply {
  const { service, action } = op;
  const headers: Record<string, string> = { 'x-amzn-RequestId': requestId };
  switch (service.protocol) {
    case 'json':
      headers['content-type'] = 'application/x-amz-json-1.1';
      return { status: 200, headers, body: toAwsJson(result ?? {}) };
    case 'query': {
      headers['content-type'] = 'text/xml';
      const ns = service.xmlNamespace ? ` xmlns="${service.xmlNamespace}"` : '';
      const body = service.ec2
        ? `<${action}Response${ns}><requestId>${requestId}</requestId>${toXml(result, 'item')}</${action}Response>`
        : `<${action}Response${ns}>${result === undefined ? '' : `<${action}Result>${toXml(result)}</${action}Result>`}` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
      return { status: 200, headers, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
    }
    case 'rest-json': {
      const r = (result ?? {}) as RestResult;
      Object.assign(headers, r.headers);
      let body: string | Buffer = '';
      if (Buffer.isBuffer(r.body) || typeof r.body === 'string') body = r.body;
      else if (r.body !== undefined) {
        body = toAwsJson(r.body);
        headers['content-type'] ??= 'application/json';
      }
      return { status: r.status ?? 200, headers, body };
    }
  }
}

export function serializeError(
  service: ServiceDefinition | undefined,
  err: AwsError,
  requestId: string,
  protocol: Protocol = err.protocol ?? service?.protocol ?? 'json',
): HttpReply {
  const [code, status] = err.resolve(service, protocol);
  const headers: Record<string, string> = { 'x-amzn-RequestId': requestId };
  switch (protocol) {
    case 'json':
      headers['content-type'] = 'application/x-amz-json-1.1';
      if (service?.awsQueryErrors) headers['x-amzn-query-error'] = `${service.awsQueryErrors[code] ?? code};${status >= 500 ? 'Receiver' : 'Sender'}`;
      // Some services (SSM's ParameterNotFound) send no message at all; the SDK then says "UnknownError".
      return {
        status,
        headers,
        body: JSON.stringify({ __type: code, ...(err.message ? { message: err.message } : {}), ...err.fields }),
      };
    case 'query': {
      headers['content-type'] = 'text/xml';
      const type = status >= 500 ? 'Receiver' : 'Sender';
      const error = `<Code>${escapeXml(service?.awsQueryErrors?.[code] ?? code)}</Code><Message>${escapeXml(err.message)}</Message>`;
      const body = service?.ec2
        ? `<Response><Errors><Error>${error}</Error></Errors><RequestID>${requestId}</RequestID></Response>`
        : `<ErrorResponse${service?.xmlNamespace ? ` xmlns="${service.xmlNamespace}"` : ''}><Error><Type>${type}</Type>${error}` +
          `</Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      return { status, headers, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
    }
    case 'rest-json':
      headers['content-type'] = 'application/json';
      headers['x-amzn-ErrorType'] = code;
      return {
        status,
        headers,
        body: JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', Message: err.message, ...err.fields }),
      };
  }
}

/** JSON with timestamps as epoch seconds, as AWS JSON protocols send them. */
export function toAwsJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : v;
  });
}

/** Query-protocol XML for a result object: lists as `<member>` (EC2: `<item>`), Dates as ISO 8601. */
export function toXml(value: unknown, listItem = 'member'): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => `<${listItem}>${toXml(v, listItem)}</${listItem}>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v, listItem)}</${k}>`)
      .join('');
  }
  return escapeXml(String(value));
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * Rebuilds structure from flattened query keys: `Tags.member.1.Key=a` → `{Tags: [{Key: 'a'}]}`,
 * `X.entry.1.key/value` → a map, EC2's `X.1` → a list. Leaves stay strings (handlers coerce).
 */
export function parseQueryParams(form: URLSearchParams): Params {
  const root: Params = {};
  for (const [key, value] of form) {
    if (key === 'Action' || key === 'Version') continue;
    const parts = key.split('.');
    let node = root;
    parts.slice(0, -1).forEach((p) => (node = typeof node[p] === 'object' ? node[p] : (node[p] = {})));
    node[parts.at(-1)!] = value;
  }
  return normalizeQuery(root) as Params;
}

function normalizeQuery(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const obj = node as Params;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'member') return normalizeQuery(obj.member);
  if (keys.length === 1 && keys[0] === 'entry') {
    const entries = normalizeQuery(obj.entry) as Array<{ key: string; value: unknown }>;
    return Object.fromEntries(entries.map((e) => [e.key, e.value]));
  }
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => +a - +b).map((k) => normalizeQuery(obj[k]));
  }
  return Object.fromEntries(keys.map((k) => [k, normalizeQuery(obj[k])]));
}

function matchPath(template: string, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template.replace(/\{(\w+)(\+?)\}/g, (_, name: string, greedy: string) => {
    names.push(name);
    return greedy ? '(.+)' : '([^/]+)';
  });
  const match = new RegExp(`^${pattern}/?$`).exec(path);
  if (!match) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Query protocol sends `Tags=` for an empty list and a lone value where JSON would have a list. */
export function asList<T = unknown>(value: unknown): T[] {
  if (value === undefined || value === null || value === '') return [];
  return (Array.isArray(value) ? value : [value]) as T[];
}
