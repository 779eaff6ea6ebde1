/**
 * Application Auto Scaling, the two calls `/ecs scale` makes, behind a small typed interface
 * (`AutoScalingApi`). The AWS SDK's client (@aws-sdk/client-application-auto-scaling) is not a
 * dependency yet, so `autoScalingClient` speaks the API's wire protocol itself: AWS JSON 1.1,
 * `X-Amz-Target: AnyScaleFrontendService.<Action>`, SigV4 with the signing name
 * `application-autoscaling`, signed by the SDK's own signer with the session's credentials (the
 * target's role, or the function's) and sent by the SDK's Node HTTP handler. Swapping in the SDK
 * client later changes this file only. Shapes and member names are the API's (PascalCase).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import { optionalEnv } from '../config/env';
import type { AwsSession } from './session';

export interface SuspendedState {
  DynamicScalingInSuspended?: boolean;
  DynamicScalingOutSuspended?: boolean;
  ScheduledScalingSuspended?: boolean;
}

export interface ScalableTarget {
  ServiceNamespace: string;
  ResourceId: string;
  ScalableDimension: string;
  MinCapacity: number;
  MaxCapacity: number;
  RoleARN?: string;
  /** Epoch seconds on the wire. */
  CreationTime?: number;
  SuspendedState?: SuspendedState;
  ScalableTargetARN?: string;
}

export interface DescribeScalableTargetsInput {
  ServiceNamespace: string;
  ResourceIds?: string[];
  ScalableDimension?: string;
  MaxResults?: number;
  NextToken?: string;
}

export interface RegisterScalableTargetInput {
  ServiceNamespace: string;
  ResourceId: string;
  ScalableDimension: string;
  MinCapacity?: number;
  MaxCapacity?: number;
  RoleARN?: string;
  SuspendedState?: SuspendedState;
}

export interface AutoScalingApi {
  describeScalableTargets(input: DescribeScalableTargetsInput): Promise<{ ScalableTargets?: ScalableTarget[]; NextToken?: string }>;
  registerScalableTarget(input: RegisterScalableTargetInput): Promise<{ ScalableTargetARN?: string }>;
}

/** An ECS service's scalable target, by its identity triple. */
export const ecsScalableTarget = (cluster: string, service: string) =>
  ({ ServiceNamespace: 'ecs', ResourceId: `service/${cluster}/${service}`, ScalableDimension: 'ecs:service:DesiredCount' }) as const;

/** The service's scalable target, or undefined when it has none (not registered). */
export async function findScalableTarget(api: AutoScalingApi, cluster: string, service: string): Promise<ScalableTarget | undefined> {
  const id = ecsScalableTarget(cluster, service);
  const out = await api.describeScalableTargets({
    ServiceNamespace: id.ServiceNamespace,
    ResourceIds: [id.ResourceId],
    ScalableDimension: id.ScalableDimension,
  });
  return out.ScalableTargets?.find((t) => t.ResourceId === id.ResourceId);
}

/** An error as the SDK shapes them: `name` is the error code, `$metadata` carries the status and request id. */
export class AutoScalingError extends Error {
  constructor(
    name: string,
    message: string,
    readonly $metadata: { httpStatusCode?: number; requestId?: string },
  ) {
    super(message);
    this.name = name;
  }
}

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof Uint8Array
      ? data
      : ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);

/** node:crypto as the signer's hash constructor (SHA-256, HMAC when given a secret). */
class Sha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

const RETRYABLE = new Set(['ThrottlingException', 'ConcurrentUpdateException', 'InternalServiceException']);
const ATTEMPTS = 5;

/** The endpoint: `AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING`, then `AWS_ENDPOINT_URL` (as the SDK reads them), else AWS's. */
const endpointFor = (region: string) =>
  new URL(
    optionalEnv('AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING') ?? optionalEnv('AWS_ENDPOINT_URL') ?? `https://application-autoscaling.${region}.amazonaws.com`,
  );

/** Application Auto Scaling for one job, with the session's region, credentials and request-id record. */
export function autoScalingClient(aws: AwsSession): AutoScalingApi {
  const region = aws.target.region;
  // The session's ECS client resolved the credentials (the target's role, or the default chain).
  const credentials = () => (aws.ecs().config.credentials as AwsCredentialIdentityProvider)();
  const send = async <O>(action: string, input: object): Promise<O> => {
    const [{ SignatureV4 }, { NodeHttpHandler }] = await Promise.all([import('@smithy/signature-v4'), import('@smithy/node-http-handler')]);
    const signer = new SignatureV4({ service: 'application-autoscaling', region, credentials, sha256: Sha256 });
    const http = new NodeHttpHandler({ requestTimeout: 30_000 });
    const url = endpointFor(region);
    const body = JSON.stringify(input);
    try {
      for (let attempt = 1; ; attempt++) {
        const request = await signer.sign({
          method: 'POST',
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query: {},
          headers: {
            host: url.host,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': `AnyScaleFrontendService.${action}`,
            'content-length': String(Buffer.byteLength(body)),
          },
          body,
        });
        let status: number;
        let text: string;
        let requestId: string | undefined;
        try {
          const { response } = await aws.throttled(() => http.handle(request as never));
          status = response.statusCode;
          requestId = (response.headers['x-amzn-requestid'] as string | undefined) ?? undefined;
          const chunks: Buffer[] = [];
          for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
          text = Buffer.concat(chunks).toString('utf8');
        } catch (error) {
          if (attempt < ATTEMPTS) {
            await backoff(attempt);
            continue;
          }
          throw error;
        }
        if (requestId) aws.recordRequestId(requestId);
        const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        if (status < 300) return parsed as O;
        const type = String(parsed.__type ?? parsed.code ?? 'UnknownError');
        const name = type.slice(type.lastIndexOf('#') + 1);
        if ((status >= 500 || RETRYABLE.has(name)) && attempt < ATTEMPTS) {
          await backoff(attempt);
          continue;
        }
        throw new AutoScalingError(name, String(parsed.message ?? parsed.Message ?? name), { httpStatusCode: status, ...(requestId ? { requestId } : {}) });
      }
    } finally {
      http.destroy();
    }
  };
  return {
    describeScalableTargets: (input) => send('DescribeScalableTargets', input),
    registerScalableTarget: (input) => send('RegisterScalableTarget', input),
  };
}

/** Full jitter, as the SDK's standard retry strategy. */
const backoff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20_000, 100 * 2 ** attempt)));
