import type { operations as Operations } from './dynamo-client';

type Ops = typeof Operations;
let loading: Promise<typeof import('./dynamo-client')> | undefined;
const load = () => (loading ??= import('./dynamo-client'));

/**
 * DynamoDB document operations. The SDK is imported on first call, never at module load:
 * the cold-start path makes no network calls and parses no client it does not use.
 */
export const ddb: Ops = {
  get: async (input) => (await load()).operations.get(input),
  put: async (input) => (await load()).operations.put(input),
  update: async (input) => (await load()).operations.update(input),
  delete: async (input) => (await load()).operations.delete(input),
  query: async (input) => (await load()).operations.query(input),
  batchGet: async (input) => (await load()).operations.batchGet(input),
  batchWrite: async (input) => (await load()).operations.batchWrite(input),
  /** Only the catalog's refresh scans (src/fleet/catalog.ts), off the hot path; the ack path never does. */
  scan: async (input) => (await load()).operations.scan(input),
};

/** Forget the client (tests point DynamoDB at a new endpoint). */
export async function resetDynamo(): Promise<void> {
  if (loading) (await loading).reset();
}

export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

export const isConditionalCheckFailed = (error: unknown): boolean => (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/** One conditional update: the item after it (ALL_NEW), or undefined when its condition did not hold. */
export async function conditionalUpdate(input: Omit<Parameters<Ops['update']>[0], 'ReturnValues'>): Promise<Record<string, unknown> | undefined> {
  try {
    return (await ddb.update({ ...input, ReturnValues: 'ALL_NEW' })).Attributes;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}
