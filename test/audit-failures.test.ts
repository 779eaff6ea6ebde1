import { afterEach, describe, expect, it, vi } from 'vitest';
import { dynamoAudit } from '../src/audit/audit';
import { AUDIT_FAILURE_METRIC, METRICS_NAMESPACE } from '../src/audit/failures';
import { useLocalDynamo } from './support/local-dynamo';

/**
 * A failed audit write is never silent: an error log line with the record's key, and one data
 * point of the AuditWriteFailures metric in embedded metric format, which the alarm watches.
 */
useLocalDynamo();

let auditTable: string | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  if (auditTable) process.env.AUDIT_TABLE = auditTable;
});

function captureStdout(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  return lines;
}

describe('audit failures', () => {
  it('log the record key and emit the metric, then fail as before', async () => {
    const previous = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'error';
    auditTable = process.env.AUDIT_TABLE;
    process.env.AUDIT_TABLE = 'no-such-table'; // DynamoDB refuses the write (ResourceNotFoundException)
    const lines = captureStdout();
    try {
      const audit = dynamoAudit(30);
      const entry = {
        id: 'a1',
        at: '2026-12-04T12:00:00.000Z',
        teamId: 'T1',
        userId: 'U1',
        channelId: 'C1',
        commandText: '/ecs status web',
        decision: 'allowed' as const,
        outcome: 'accepted' as const,
      };
      await expect(audit.record(entry)).rejects.toThrow();
      await expect(audit.complete({ pk: 'team#T1', sk: 'x' }, { outcome: 'success' })).rejects.toThrow();
    } finally {
      process.env.LOG_LEVEL = previous;
    }
    const json = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const logs = json.filter((j) => j.message === 'audit write failed');
    expect(logs).toEqual([
      expect.objectContaining({ level: 'error', operation: 'record', auditKey: { pk: 'team#T1', sk: '2026-12-04T12:00:00.000Z#a1' } }),
      expect.objectContaining({ level: 'error', operation: 'complete', auditKey: { pk: 'team#T1', sk: 'x' } }),
    ]);
    const emf = json.filter((j) => j._aws !== undefined);
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['service']], Metrics: [{ Name: AUDIT_FAILURE_METRIC, Unit: 'Count' }] }] },
      service: 'ecs-chatops',
      [AUDIT_FAILURE_METRIC]: 1,
    });
  });

  it('a completion that lost the race to a workflow is not a failure', async () => {
    const lines = captureStdout();
    const audit = dynamoAudit(30);
    const entry = {
      id: 'a2',
      at: '2026-12-04T12:00:01.000Z',
      teamId: 'T1',
      userId: 'U1',
      channelId: 'C1',
      commandText: '/ecs run slow.sh',
      decision: 'allowed' as const,
      outcome: 'accepted' as const,
    };
    const key = await audit.record(entry);
    await audit.complete(key, { outcome: 'success' });
    await audit.complete(key, { outcome: 'accepted' }, { outcome: 'accepted' });
    expect(lines.filter((l) => l.includes('_aws') || l.includes('audit write failed'))).toEqual([]);
  });
});
