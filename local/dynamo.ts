import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type AttributeDefinition, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import type { AddressInfo } from 'node:net';
import { TABLES, type TableDefinition } from '../src/platform/tables';

export interface LocalDynamo {
  endpoint: string;
  /** Environment for the bot: endpoint and table names. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** dynalite (a faithful DynamoDB API, in memory) on a free loopback port, with the bot's tables. */
export async function startLocalDynamo(options: { port?: number } = {}): Promise<LocalDynamo> {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await Promise.all(Object.values(TABLES).map((def) => createTable(client, def)));
  client.destroy();
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: endpoint };
  for (const def of Object.values(TABLES)) env[def.env] = def.localName;
  return {
    endpoint,
    env,
    close: () => new Promise((resolve) => server.close(() => resolve())),
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
