import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

// Loaded on first use by ./dynamo.ts, so that a cold start only pays for the SDK once a request needs it.
let client: DynamoDBDocumentClient | undefined;

function documentClient(): DynamoDBDocumentClient {
  client ??= DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 4, requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 } }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return client;
}

type Input<C extends abstract new (input: never) => unknown> = ConstructorParameters<C>[0];

export const operations = {
  get: (input: Input<typeof GetCommand>) => documentClient().send(new GetCommand(input)),
  put: (input: Input<typeof PutCommand>) => documentClient().send(new PutCommand(input)),
  update: (input: Input<typeof UpdateCommand>) => documentClient().send(new UpdateCommand(input)),
  delete: (input: Input<typeof DeleteCommand>) => documentClient().send(new DeleteCommand(input)),
  query: (input: Input<typeof QueryCommand>) => documentClient().send(new QueryCommand(input)),
  batchGet: (input: Input<typeof BatchGetCommand>) => documentClient().send(new BatchGetCommand(input)),
  batchWrite: (input: Input<typeof BatchWriteCommand>) => documentClient().send(new BatchWriteCommand(input)),
  scan: (input: Input<typeof ScanCommand>) => documentClient().send(new ScanCommand(input)),
};

export function reset(): void {
  client?.destroy();
  client = undefined;
}
