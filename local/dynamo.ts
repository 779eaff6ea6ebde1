import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type AttributeDefinition, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TABLES, type TableDefinition } from '../src/platform/tables';

/** How the local DynamoDB misbehaves, for tests and the playground's Simulate menu. */
export type DynamoFault = 'none' | 'refuse' | 'hang';

export interface LocalDynamo {
  /** What the bot talks to: a front that forwards to dynalite (and can fail like a network). */
  endpoint: string;
  /** Environment for the bot: endpoint and table names. */
  env: Record<string, string>;
  /** `refuse`: every connection is reset at once; `hang`: accepted, never answered; `none`: normal. */
  fault(mode: DynamoFault): void;
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
  await Promise.all(Object.values(TABLES).map((def) => createTable(client, def)));
  client.destroy();
  const front = await startFront(backend, options.port);
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: front.endpoint };
  for (const def of Object.values(TABLES)) env[def.env] = def.localName;
  return {
    endpoint: front.endpoint,
    env,
    fault: (mode) => front.setMode(mode),
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
async function startFront(backend: string, port: number | undefined): Promise<{ endpoint: string; setMode(mode: DynamoFault): void; close(): Promise<void> }> {
  let mode: DynamoFault = 'none';
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (mode === 'hang') return; // the socket stays open; the client must give up by itself
    const upstream = httpRequest(`${backend}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => res.destroy(error));
    req.pipe(upstream);
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

async function createTable(client: DynamoDBClient, def: TableDefinition): Promise<void> {
  const keys: KeySchemaElement[] = [{ AttributeName: def.partitionKey, KeyType: 'HASH' }];
  const attributes: AttributeDefinition[] = [{ AttributeName: def.partitionKey, AttributeType: 'S' }];
  if (def.sortKey) {
    keys.push({ AttributeName: def.sortKey, KeyType: 'RANGE' });
    attributes.push({ AttributeName: def.sortKey, AttributeType: 'S' });
  }
  await client.send(new CreateTableCommand({ TableName: def.localName, KeySchema: keys, AttributeDefinitions: attributes, BillingMode: 'PAY_PER_REQUEST' }));
  if (def.ttlAttribute) {
    await client
      .send(new UpdateTimeToLiveCommand({ TableName: def.localName, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }))
      .catch(() => undefined); // dynalite does not implement TTL; the code treats expired items as absent itself
  }
}
