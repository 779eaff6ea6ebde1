import { AllowlistChangedError, resolvePrincipal } from '../../src/auth/allowlist';
import { principalArnOf } from '../../src/api/principal';
import type { AuditKey, AuditLog, AuditRecord } from '../../src/audit/audit';
import type { AllowlistStore } from '../../src/auth/allowlist';
import type { AllowlistEntry, Grant } from '../../src/auth/roles';
import type { Job, JobDispatcher } from '../../src/platform/jobs';
import type { StateStore } from '../../src/platform/state';
import { bucketAfter, type RateLimit, type RateLimiter } from '../../src/api/rate-limit';

/** In-memory stand-ins for the ingress's stores, for narrow unit tests (integration tests use dynalite). */
export function memoryAllowlist(
  initial: Array<{ teamId: string; userId: string; grants: Grant[] }> = [],
): AllowlistStore & { entries: Map<string, AllowlistEntry>; reads: number } {
  const entries = new Map<string, AllowlistEntry>();
  for (const e of initial) entries.set(`${e.teamId}/${e.userId}`, { ...e, addedBy: 'U0ROOT', updatedAt: '2026-01-01T00:00:00.000Z' });
  const store = {
    entries,
    reads: 0,
    async get(teamId: string, userId: string) {
      store.reads++;
      const arn = principalArnOf(userId);
      if (arn !== undefined)
        return resolvePrincipal(
          teamId,
          arn,
          [...entries.values()].filter((e) => e.teamId === teamId),
        );
      return entries.get(`${teamId}/${userId}`);
    },
    async put(entry: AllowlistEntry, previous?: Pick<AllowlistEntry, 'updatedAt'> | null) {
      const current = entries.get(`${entry.teamId}/${entry.userId}`);
      if (previous !== undefined && (previous === null ? current !== undefined : current?.updatedAt !== previous.updatedAt)) throw new AllowlistChangedError();
      entries.set(`${entry.teamId}/${entry.userId}`, entry);
    },
    async remove(teamId: string, userId: string, previous?: Pick<AllowlistEntry, 'updatedAt'>) {
      if (previous && entries.get(`${teamId}/${userId}`)?.updatedAt !== previous.updatedAt) throw new AllowlistChangedError();
      return entries.delete(`${teamId}/${userId}`);
    },
    async list(teamId: string) {
      return [...entries.values()].filter((e) => e.teamId === teamId);
    },
  };
  return store;
}

export function memoryAudit(): AuditLog & { records: AuditRecord[]; completions: Array<{ key: AuditKey; result: object }> } {
  const records: AuditRecord[] = [];
  const completions: Array<{ key: AuditKey; result: object }> = [];
  return {
    records,
    completions,
    async record(entry) {
      records.push(entry);
      return { pk: `team#${entry.teamId}`, sk: `${entry.at}#${entry.id}` };
    },
    async complete(key, result) {
      completions.push({ key, result });
    },
  };
}

export function memoryState(): StateStore & { items: Map<string, Record<string, unknown>> } {
  const items = new Map<string, Record<string, unknown>>();
  return {
    items,
    async claim(key, _ttl, attributes = {}) {
      if (items.has(key)) return false;
      items.set(key, { ...attributes, pk: key });
      return true;
    },
    async get(key) {
      return items.get(key) as never;
    },
    async release(key, owner) {
      const item = items.get(key);
      if (item && (!owner || Object.entries(owner).every(([f, v]) => item[f] === v))) items.delete(key);
    },
    async refresh(key, _ttl, owner) {
      const item = items.get(key);
      return !!item && (!owner || Object.entries(owner).every(([f, v]) => item[f] === v));
    },
    async put(key, _ttl, attributes) {
      items.set(key, { ...attributes, pk: key });
    },
    async take(key) {
      const item = items.get(key);
      items.delete(key);
      return item as never;
    },
  };
}

export function memoryJobs(options: { failTimes?: number } = {}): JobDispatcher & { jobs: Job[] } {
  let failures = options.failTimes ?? 0;
  const jobs: Job[] = [];
  return {
    jobs,
    async dispatch(job) {
      if (failures > 0) {
        failures--;
        throw new Error('simulated Lambda outage');
      }
      jobs.push(job);
    },
  };
}

/** A token bucket per caller in memory, on the same arithmetic as the state table's (src/api/rate-limit.ts). */
export function memoryRateLimiter(limit: RateLimit, now: () => number): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async take(caller) {
      const b = buckets.get(caller);
      const next = bucketAfter(limit, b?.tokens ?? limit.burst, b ? now() - b.at : 0);
      if (next.decision.allowed) buckets.set(caller, { tokens: next.tokens, at: now() });
      return next.decision;
    },
  };
}
