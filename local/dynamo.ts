import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TABLES, type TableDefinition } from '../src/platform/tables';
import { callingFunction } from './aws/function-context';
import { DEFAULT_ACCOUNT } from './aws/state';
import { readYaml } from './iam/yaml';

/** How the local DynamoDB misbehaves, for tests and the playground's Simulate menu. */
export type DynamoFault = 'none' | 'refuse' | 'hang';

/**
 * IAM for a DynamoDB request (the local world evaluates the calling function's role): `undefined`
 * lets it through, a string refuses it with that AccessDeniedException message.
 */
export type DynamoAuthorizer = (request: {
  functionName?: string;
  accessKeyId: string;
  region: string;
  action: string;
  resource: string;
}) => string | undefined;

export interface LocalDynamo {
  /** What the bot talks to: a front that forwards to dynalite (and can fail like a network). */
  endpoint: string;
  /** Environment for the bot: endpoint and table names. */
  env: Record<string, string>;
  /** `refuse`: every connection is reset at once; `hang`: accepted, never answered; `none`: normal. */
  fault(mode: DynamoFault): void;
  /** Evaluates each request's action on each table it names before dynalite sees it. */
  authorizeWith(authorizer: DynamoAuthorizer | undefined): void;
  close(): Promise<void>;
}

/** dynalite (a faithful DynamoDB API, in memory) on a free loopback port, with the bot's tables. */
export async function startLocalDynamo(options: { port?: number } = {}): Promise<LocalDynamo> {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const backend = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint: backend, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await Promise.all(Object.entries(TABLES).map(([key, def]) => createTable(client, key, def)));
  client.destroy();
  const front = await startFront(backend, options.port);
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: front.endpoint };
  for (const def of Object.values(TABLES)) env[def.env] = def.localName;
  return {
    endpoint: front.endpoint,
    env,
    fault: (mode) => front.setMode(mode),
    authorizeWith: (authorizer) => front.setAuthorizer(authorizer),
    close: async () => {
      await front.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An HTTP front for dynalite: forwards every request unchanged, unless told to fail the way a
 * network or an overloaded service does (reset connections, or accept and never answer).
 */
async function startFront(
  backend: string,
  port: number | undefined,
): Promise<{ endpoint: string; setMode(mode: DynamoFault): void; setAuthorizer(authorizer: DynamoAuthorizer | undefined): void; close(): Promise<void> }> {
  let mode: DynamoFault = 'none';
  let authorizer: DynamoAuthorizer | undefined;
  const sockets = new Set<Socket>();
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const upstream = httpRequest(`${backend}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => res.destroy(error));
    upstream.end(body);
  };
  const server: Server = createServer((req, res) => {
    if (mode === 'hang') return; // the socket stays open; the client must give up by itself
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const refusal = authorizer && refusalOf(req, body, authorizer);
      if (!refusal) return forward(req, body, res);
      // DynamoDB's answer to an IAM denial (JSON 1.0 protocol, HTTP 400).
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
      res.end(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', Message: refusal }));
    });
  });
  server.on('connection', (socket) => {
    if (mode === 'refuse') {
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setAuthorizer(next) {
      authorizer = next;
    },
    setMode(next) {
      mode = next;
      // Connections kept alive from before would bypass the new mode.
      if (next !== 'none') for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The IAM refusal of a request, if any: its action (`X-Amz-Target: DynamoDB_20120810.PutItem` →
 * `dynamodb:PutItem`) on the ARN of every table it names, as the signer's region and account see it.
 */
function refusalOf(req: IncomingMessage, body: Buffer, authorizer: DynamoAuthorizer): string | undefined {
  const target = String(req.headers['x-amz-target'] ?? '');
  const operation = target.slice(target.indexOf('.') + 1);
  const credential = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  if (!operation || !credential) return undefined; // dynalite answers malformed requests itself
  const [, accessKeyId, region] = credential as unknown as [string, string, string];
  let input: Record<string, any> = {};
  try {
    input = JSON.parse(body.toString('utf8') || '{}');
  } catch {
    return undefined;
  }
  const functionName = callingFunction(req.headers);
  // A Query (or Scan) of an index is authorised on the index's ARN, not the table's (DynamoDB's IAM resource types).
  const index = typeof input.IndexName === 'string' ? `/index/${input.IndexName}` : '';
  for (const table of tablesOf(operation, input)) {
    const resource = `arn:aws:dynamodb:${region}:${DEFAULT_ACCOUNT}:table/${table}${index}`;
    const refusal = authorizer({ ...(functionName ? { functionName } : {}), accessKeyId, region, action: `dynamodb:${operation}`, resource });
    if (refusal) return refusal;
  }
  return undefined;
}

/** The tables a request names: one `TableName`, or the keys of a batch's `RequestItems`, or each transaction item's. */
function tablesOf(operation: string, input: Record<string, any>): string[] {
  if (typeof input.TableName === 'string') return [input.TableName];
  if (input.RequestItems && typeof input.RequestItems === 'object') return Object.keys(input.RequestItems);
  if (Array.isArray(input.TransactItems)) {
    return [
      ...new Set(input.TransactItems.flatMap((item: Record<string, { TableName?: string }>) => Object.values(item).map((x) => x.TableName ?? ''))),
    ] as string[];
  }
  return operation === 'ListTables' ? ['*'] : [];
}

/**
 * A table's keys, attributes and global secondary indexes as serverless.yml declares them (the
 * index definitions are plain values there, no intrinsics): the local tables are the deployed ones.
 */
function declaredTable(key: string): {
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: AttributeDefinition[];
  GlobalSecondaryIndexes?: GlobalSecondaryIndex[];
} {
  declared ??= readYaml(fileURLToPath(new URL('../serverless.yml', import.meta.url)));
  type Declared = { Type: string; Properties: { TableName?: unknown } & ReturnType<typeof declaredTable> };
  const resources = Object.values<Declared>(declared.resources?.Resources ?? {});
  const table = resources.find((r) => r.Type === 'AWS::DynamoDB::Table' && String(r.Properties.TableName).endsWith(`-${key}`));
  if (!table) throw new Error(`serverless.yml declares no table ending in -${key}`);
  const { KeySchema, AttributeDefinitions, GlobalSecondaryIndexes } = table.Properties;
  return { KeySchema, AttributeDefinitions, ...(GlobalSecondaryIndexes ? { GlobalSecondaryIndexes } : {}) };
}
let declared: ReturnType<typeof readYaml> | undefined;

async function createTable(client: DynamoDBClient, key: string, def: TableDefinition): Promise<void> {
  const shape = declaredTable(key);
  const keys: KeySchemaElement[] = [
    { AttributeName: def.partitionKey, KeyType: 'HASH' },
    ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  // src/platform/tables.ts names the keys the code reads; serverless.yml must agree (test/packaging.test.ts too).
  if (JSON.stringify(shape.KeySchema) !== JSON.stringify(keys)) throw new Error(`serverless.yml's ${key} table has other keys than src/platform/tables.ts`);
  await client.send(new CreateTableCommand({ TableName: def.localName, ...shape, BillingMode: 'PAY_PER_REQUEST' }));
  if (def.ttlAttribute) {
    await client
      .send(new UpdateTimeToLiveCommand({ TableName: def.localName, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }))
      .catch(() => undefined); // dynalite does not implement TTL; the code treats expired items as absent itself
  }
}
