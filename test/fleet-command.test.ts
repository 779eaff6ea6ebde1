import { describe, expect, it } from 'vitest';
import { fleetCommand } from '../src/commands/fleet';
import { servicePin } from '../src/fleet/pin';
import type { WorkerContext } from '../src/worker/context';
import type { FleetWorkflowInput } from '../src/workflows/inputs';
import { fleetService } from './support/fleet';

/** `/ecs status|verify <selector>`'s hand-off to the fleet workflow, with the selection already made. */
const SELECTED = [fleetService('a1', '111111111111'), fleetService('a2', '111111111111'), fleetService('b1', '222222222222')];

function context(start: (input: FleetWorkflowInput) => Promise<void>) {
  const closed: string[] = [];
  const ctx = {
    job: { invocation: { teamId: 'T1', userId: 'U0ALICE', channelId: 'C0OPS', text: 'verify env=prod' }, audit: { pk: 'team#T1', sk: 'x' } },
    out: {
      parentTs: '1700000000.000100',
      living: async () => ({ ts: '1700000000.000200', update: () => undefined, close: async (text: string) => void closed.push(text) }),
    },
    startFleetWorkflow: start,
    now: Date.now,
  } as unknown as WorkerContext;
  return { ctx, closed };
}

describe('fleetCommand', () => {
  it('hands the workflow each alias with the pin of the service that was selected and authorised, grouped by account', async () => {
    const started: FleetWorkflowInput[] = [];
    const { ctx } = context(async (input) => void started.push(input));
    const result = await fleetCommand('verify', { selector: 'env=prod' }, ctx, SELECTED);
    expect(result).toMatchObject({ outcome: 'success', continues: true });
    expect(started[0]!.fleet).toMatchObject({
      kind: 'verify',
      batches: [['a1', 'a2'], ['b1']],
      pins: { a1: servicePin(SELECTED[0]!), a2: servicePin(SELECTED[1]!), b1: servicePin(SELECTED[2]!) },
      summaryTs: '1700000000.000200',
    });
    expect(new Set(Object.values(started[0]!.fleet.pins!)).size).toBe(3);
  });

  it('closes the summary as not started when the workflow cannot be started, so it never says "running" forever', async () => {
    const { ctx, closed } = context(async () => {
      throw new Error('Lambda refused the invoke');
    });
    await expect(fleetCommand('status', { selector: 'env=prod' }, ctx, SELECTED)).rejects.toThrow('Lambda refused the invoke');
    expect(closed).toEqual([expect.stringMatching(/^⏹️ Status of `env=prod` \(run `[^`]+`\) did not start\.$/)]);
  });
});
