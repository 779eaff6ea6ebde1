import { afterAll, beforeAll } from 'vitest';
import { startLocalDynamo, type LocalDynamo } from '../../local/dynamo';
import { resetDynamo } from '../../src/platform/dynamo';

/** dynalite with the bot's tables for this test file; the code finds it through the standard endpoint settings. */
export function useLocalDynamo(): { current?: LocalDynamo } {
  const holder: { current?: LocalDynamo } = {};
  beforeAll(async () => {
    holder.current = await startLocalDynamo();
    Object.assign(process.env, holder.current.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
    await resetDynamo();
  });
  afterAll(async () => {
    await resetDynamo();
    await holder.current?.close();
  });
  return holder;
}
