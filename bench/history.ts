/**
 * `npm run bench:history`: `/ecs history web`'s query path over 100,000 audit records.
 *
 * dynalite (the local world's DynamoDB, its tables and indexes created from serverless.yml) is
 * seeded by BatchWriteItem (the document client's BatchWrite) with 100,000 records as the audit writer stores them (src/audit/audit.ts
 * auditItem: keys and index keys), spread over 20 services and 30 people across the last 30 days.
 * Then, RUNS times, what the worker does for `/ecs history web` short of Slack: the Query of the
 * byTarget index, newest first, until 20 rows the reader may see, and the rendered text.
 *
 *  - history_query_ms: p95 of that path. Target ≤ 300 ms.
 *  - history_query_user_ms: p95 of `/ecs history web --user @x` (the same index, the person as a filter).
 *  - history_query_user_absent_ms: the same for someone who never acted on web: the filter reads all
 *    of web's records (5,000) to prove it (the cost of one index per dimension, no composite).
 * Every request dynalite sees is recorded: none may be a Scan, and each history read is a Query
 * of an index.
 *
 * Loopback only; bounded by BENCH_HISTORY_TIMEOUT_S (default 300 s).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { percentile, report, runBench } from './support/report';

const RECORDS = Number(process.env.BENCH_HISTORY_RECORDS ?? 100_000);
const RUNS = Number(process.env.BENCH_HISTORY_RUNS ?? 20);
const BENCH_TIMEOUT_S = Number(process.env.BENCH_HISTORY_TIMEOUT_S ?? 300);
const TARGET_MS = 300;
const TEAM = 'T0LOCAL';
const CHANNEL = 'C0OPS';
const TARGETS = ['web', ...Array.from({ length: 19 }, (_, i) => `svc${String(i + 1).padStart(2, '0')}`)];
const USERS = Array.from({ length: 30 }, (_, i) => `U0USER${String(i).padStart(2, '0')}`);
const VERBS = ['status', 'logs', 'deploy', 'run', 'verify', 'scale'] as const;
const OUTCOMES = ['success', 'success', 'success', 'warning', 'failure', 'refused'] as const;

async function main(): Promise<void> {
  const { startLocalDynamo } = await import('../local/dynamo');
  const dynamo = await startLocalDynamo();
  Object.assign(process.env, dynamo.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  const operations: Array<{ action: string; resource: string }> = [];
  dynamo.authorizeWith(({ action, resource }) => {
    operations.push({ action, resource });
    return undefined;
  });
  const { auditItem } = await import('../src/audit/audit');
  const { historyQueryInput, historyVisibility, readHistory, renderHistory, HISTORY_SHOWN } = await import('../src/audit/history');
  const { archiveLinks, documentQuery } = await import('../src/commands/history');
  const { tableName } = await import('../src/platform/tables');
  const failures: string[] = [];
  try {
    // Seeding: 25 items per BatchWriteItem, 16 batches in flight; unprocessed items sent again.
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    const table = tableName('audit');
    const now = Date.now();
    const span = 30 * 86_400_000;
    const item = (i: number) => {
      const target = TARGETS[i % TARGETS.length]!;
      const verb = VERBS[i % VERBS.length]!;
      const outcome = OUTCOMES[(i >> 3) % OUTCOMES.length]!;
      return auditItem(
        {
          id: `bench-${i}`,
          at: new Date(now - span + Math.floor((i * span) / RECORDS)).toISOString(),
          teamId: TEAM,
          userId: USERS[(i * 7) % USERS.length]!,
          channelId: CHANNEL,
          commandText: `/ecs ${verb} ${target}${verb === 'deploy' ? ` v1.${i % 100}.0` : ''}`,
          verb,
          target,
          decision: outcome === 'refused' ? 'denied' : 'allowed',
          outcome,
          ...(outcome === 'refused'
            ? { reason: 'you need the `deployer` role for service `web`' }
            : { durationMs: 200 + (i % 5000), threadTs: `${Math.floor((now - span) / 1000) + i}.000100` }),
        },
        400,
      );
    };
    const seedStart = performance.now();
    let next = 0;
    const writer = async () => {
      while (next < RECORDS) {
        const from = next;
        next = Math.min(RECORDS, next + 25);
        let requests = Array.from({ length: next - from }, (_, k) => ({ PutRequest: { Item: item(from + k) } }));
        while (requests.length) {
          const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
          requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    client.destroy();
    console.log(`seeded ${RECORDS.toLocaleString('en-US')} audit records in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    // The reader: an admin of every service (a viewer of web reads the same rows of web).
    const visible = historyVisibility(
      { teamId: TEAM, userId: 'U0ALICE', grants: [{ role: 'viewer', services: ['*'] }], addedBy: 'bench', updatedAt: '' },
      CHANNEL,
    );
    const measure = async (query: Parameters<typeof historyQueryInput>[0], subject: string) => {
      const times: number[] = [];
      let text = '';
      for (let run = 0; run < RUNS + 1; run++) {
        const started = performance.now();
        const read = await readHistory(documentQuery, historyQueryInput(query, table), { max: HISTORY_SHOWN, visible });
        text = renderHistory({ subject, ...(query.userId ? { userId: query.userId } : {}) }, read, archiveLinks('https://local.slack.com', read.rows));
        if (run > 0) times.push(performance.now() - started); // the first run warms the client
      }
      return { sorted: times.sort((a, b) => a - b), text };
    };
    operations.length = 0;
    const web = await measure({ teamId: TEAM, target: 'web' }, 'web');
    const shown = web.text.split('\n').filter((l) => l.startsWith('• '));
    if (shown.length !== HISTORY_SHOWN) failures.push(`history web showed ${shown.length} rows, not ${HISTORY_SHOWN}`);
    if (shown.some((l) => !/`\/ecs \w+ web/.test(l))) failures.push('history web showed a row of another service');
    // Three of the thirty people act on web (a third of its records each); the others never do, so
    // their answer is empty and proves so by reading all of web's records in the window (the filter).
    const user = await measure({ teamId: TEAM, target: 'web', userId: USERS[10]! }, 'web');
    const userShown = user.text.split('\n').filter((l) => l.startsWith('• '));
    if (userShown.length !== HISTORY_SHOWN || userShown.some((l) => !l.includes(`<@${USERS[10]}>`)))
      failures.push('history web --user showed another person, or too few');
    const absent = await measure({ teamId: TEAM, target: 'web', userId: USERS[7]! }, 'web');
    if (!absent.text.includes('nothing recorded')) failures.push('history web --user (someone who never acted on web) found something');

    const scans = operations.filter((o) => o.action === 'dynamodb:Scan');
    const offIndex = operations.filter((o) => o.action !== 'dynamodb:Query' || !o.resource.endsWith('/index/byTarget'));
    if (scans.length) failures.push(`${scans.length} Scan requests`);
    if (offIndex.length) failures.push(`requests other than a Query of byTarget: ${[...new Set(offIndex.map((o) => `${o.action} ${o.resource}`))].join(', ')}`);
    console.log(
      `history web: p50 ${percentile(web.sorted, 50).toFixed(1)} ms, max ${web.sorted.at(-1)!.toFixed(1)} ms over ${RUNS} runs; --user: p50 ${percentile(user.sorted, 50).toFixed(1)} ms, of someone never on web: p50 ${percentile(absent.sorted, 50).toFixed(1)} ms; ${operations.length} requests, all Query of byTarget`,
    );
    const p95 = percentile(web.sorted, 95);
    report('history_query_ms', p95, 'ms', 1);
    report('history_query_user_ms', percentile(user.sorted, 95), 'ms', 1);
    report('history_query_user_absent_ms', percentile(absent.sorted, 95), 'ms', 1);
    if (p95 > TARGET_MS) failures.push(`history_query_ms ${p95.toFixed(1)} ms is above the ${TARGET_MS} ms target`);
  } finally {
    await dynamo.close();
    const { resetDynamo } = await import('../src/platform/dynamo');
    await resetDynamo();
  }
  if (failures.length) {
    for (const f of failures) console.error(`FAIL ${f}`);
    process.exitCode = 1;
  }
}

runBench('history', main, BENCH_TIMEOUT_S);
