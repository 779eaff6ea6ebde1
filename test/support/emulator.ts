import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws';

/**
 * A frozen-clock AWS emulator (time moves only with `clock.advance`) and an ECS client on it, fresh
 * for each test (`per: 'test'`) or shared by the file's tests (`per: 'file'`).
 */
export function useEmulatorEcs(per: 'test' | 'file' = 'test'): { readonly emu: AwsEmulator; readonly ecs: ECSClient } {
  let emu: AwsEmulator | undefined;
  let ecs: ECSClient | undefined;
  const [before, after] = per === 'test' ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    emu = await startAwsEmulator({ clockRate: 0 });
    ecs = new ECSClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
  });
  after(async () => {
    ecs?.destroy();
    await emu?.close();
  });
  return {
    get emu() {
      return emu!;
    },
    get ecs() {
      return ecs!;
    },
  };
}
