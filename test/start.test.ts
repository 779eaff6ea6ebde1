import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startPlaygroundProcess } from '../local/start-process';

describe('npm start', () => {
  it('serves the page, names a free port when the chosen one is taken, and leaves nothing running after Ctrl-C', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const started = await startPlaygroundProcess({ PORT: String(taken) });
      expect(started.output()).toContain(`Port ${taken} is in use, so the page is on port`);
      expect(started.url).not.toContain(`:${taken}/`);
      const page = await fetch(started.url);
      expect(await page.text()).toContain('ecs-chatops playground');
      await started.stop(); // throws if the page still answers
      expect(started.output()).toContain('SIGINT: stopping');
    } finally {
      blocker.close();
    }
  });
});
