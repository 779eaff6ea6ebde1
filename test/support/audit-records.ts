import type { AuditRecord } from '../../src/audit/audit';

/** Audit records of a team about one thread (the command's, completed by its workflow, and each reaction's). */
export async function auditRecords(teamId: string, threadTs: string): Promise<AuditRecord[]> {
  const { ddb } = await import('../../src/platform/dynamo');
  const { tableName } = await import('../../src/platform/tables');
  const out = await ddb.query({
    TableName: tableName('audit'),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `team#${teamId}` },
  });
  return (out.Items ?? []).filter((r) => r.threadTs === threadTs) as never;
}
