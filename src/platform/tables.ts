import { requiredEnv } from '../config/env';

/**
 * The bot's DynamoDB tables. serverless.yml declares the same shapes (a test keeps them in step),
 * and the local world and tests create them from here.
 */
export interface TableDefinition {
  /** Environment variable holding the table's name at run time. */
  env: 'ALLOWLIST_TABLE' | 'AUDIT_TABLE' | 'STATE_TABLE' | 'CATALOG_TABLE';
  /** Name used by the local world and tests: serverless.yml's name for stage `local` (the world checks it). */
  localName: string;
  partitionKey: string;
  sortKey?: string;
  ttlAttribute?: string;
}

export const TABLES = {
  /** One item per Slack user: pk `team#T…`, sk `user#U…`, with the user's role grants. */
  allowlist: { env: 'ALLOWLIST_TABLE', localName: 'ecs-chatops-local-allowlist', partitionKey: 'pk', sortKey: 'sk' },
  /** One item per attempt: pk `team#T…`, sk `<ISO time>#<attempt id>`. */
  audit: {
    env: 'AUDIT_TABLE',
    localName: 'ecs-chatops-local-audit',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
  },
  /** Short-lived coordination records (event dedup, locks, pending approvals): pk only, all with a TTL. */
  state: { env: 'STATE_TABLE', localName: 'ecs-chatops-local-state', partitionKey: 'pk', ttlAttribute: 'expiresAt' },
  /**
   * The fleet's catalog (src/fleet/catalog.ts): pk `svc#<alias>` per service (one GetItem resolves
   * an alias), `sel#<key>=<value>` per label value and `sel#*` listing aliases (a selector is a few
   * GetItems and BatchGetItems; only the worker's refresh scans it), `meta#labels` and `meta#refresh`.
   */
  catalog: { env: 'CATALOG_TABLE', localName: 'ecs-chatops-local-catalog', partitionKey: 'pk' },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof TABLES;

export function tableName(table: TableKey): string {
  return requiredEnv(TABLES[table].env);
}
