/**
 * The whole change a deploy makes, for the people asked to approve it: a compact summary of what
 * differs between the task definition the service runs and the one it would run (container by
 * container: image, command, entry point, cpu and memory, ports, environment variable NAMES,
 * secrets, log configuration; and the task's roles, network mode, size, compatibilities), and
 * the rest as a unified diff of the two definitions, attached as a file.
 *
 * Values of plain environment variables are shown only when the target allows it
 * (`deploy.showEnvironmentValues`); secret values are never read, and their sources (ARNs) are
 * named only as "changed". Everything here is plain text: the caller escapes it for Slack.
 */
import type { ContainerDefinition, KeyValuePair, Secret, TaskDefinition } from '@aws-sdk/client-ecs';

export interface DefinitionDiff {
  /** One line per change, plain text (escape for Slack); empty when nothing differs. */
  lines: string[];
  /** A unified diff of the two definitions (as JSON, server-set fields left out), for a file. */
  unified: string;
}

/** Fields ECS sets on registration: they differ between any two revisions and say nothing about the change. */
const SERVER_SET = new Set([
  'taskDefinitionArn',
  'revision',
  'status',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequestedAt',
  'requiresAttributes',
  'compatibilities',
]);

/** A task definition as people compare it: server-set fields out, keys sorted, lists as given. */
export function comparable(td: TaskDefinition): unknown {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, sort(v)]),
      );
    }
    return value;
  };
  return sort(Object.fromEntries(Object.entries(td).filter(([k]) => !SERVER_SET.has(k) && k !== 'tags')));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const show = (v: unknown) => (v === undefined || v === null ? 'none' : Array.isArray(v) ? JSON.stringify(v) : String(v));
const ports = (c: ContainerDefinition) => (c.portMappings ?? []).map((p) => `${p.containerPort}/${p.protocol ?? 'tcp'}`).join(', ') || 'none';
const byName = <T extends { name?: string | undefined }>(list: T[] | undefined) => new Map((list ?? []).map((x) => [x.name ?? '', x]));

function namedChanges<T extends KeyValuePair | Secret>(
  kind: string,
  before: T[] | undefined,
  after: T[] | undefined,
  valueIn: (x: T) => string | undefined,
  showValues: boolean,
): string[] {
  const was = byName(before);
  const now = byName(after);
  const added = [...now.keys()].filter((n) => !was.has(n));
  const removed = [...was.keys()].filter((n) => !now.has(n));
  const changed = [...now.keys()].filter((n) => was.has(n) && valueIn(was.get(n)!) !== valueIn(now.get(n)!));
  const out: string[] = [];
  const values = (names: string[], from?: Map<string, T>) => names.map((n) => (showValues ? `${n}=${valueIn((from ?? now).get(n)!) ?? ''}` : n)).join(', ');
  if (added.length) out.push(`${kind} added: ${values(added)}`);
  if (removed.length) out.push(`${kind} removed: ${removed.join(', ')}`);
  if (changed.length)
    out.push(
      `${kind} changed: ${showValues ? changed.map((n) => `${n}: ${valueIn(was.get(n)!) ?? ''} → ${valueIn(now.get(n)!) ?? ''}`).join(', ') : changed.join(', ')}`,
    );
  return out;
}

/** What changed in one container, each line prefixed by the caller with the container's name. */
function containerChanges(a: ContainerDefinition, b: ContainerDefinition, showValues: boolean): string[] {
  const out: string[] = [];
  if (a.image !== b.image) out.push(`image ${show(a.image)} → ${show(b.image)}`);
  if (!same(a.command, b.command)) out.push(`command ${show(a.command)} → ${show(b.command)}`);
  if (!same(a.entryPoint, b.entryPoint)) out.push(`entryPoint ${show(a.entryPoint)} → ${show(b.entryPoint)}`);
  for (const key of ['cpu', 'memory', 'memoryReservation'] as const) if (a[key] !== b[key]) out.push(`${key} ${show(a[key])} → ${show(b[key])}`);
  if (ports(a) !== ports(b)) out.push(`ports ${ports(a)} → ${ports(b)}`);
  out.push(...namedChanges('environment', a.environment, b.environment, (e) => e.value, showValues));
  // A secret's source is an ARN, not its value; still, only "changed" is said, never the value.
  out.push(...namedChanges('secrets', a.secrets, b.secrets, (s) => s.valueFrom, false));
  if (!same(a.logConfiguration, b.logConfiguration)) {
    const where = (c: ContainerDefinition) =>
      c.logConfiguration
        ? `${c.logConfiguration.logDriver}${c.logConfiguration.options?.['awslogs-group'] ? ` ${c.logConfiguration.options['awslogs-group']}` : ''}`
        : 'none';
    out.push(`log configuration ${where(a)} → ${where(b)}${where(a) === where(b) ? ' (options)' : ''}`);
  }
  if (a.essential !== b.essential) out.push(`essential ${show(a.essential ?? true)} → ${show(b.essential ?? true)}`);
  return out;
}

/** The compact summary and the unified diff between the running definition `from` and the planned `to`. */
export function definitionDiff(from: TaskDefinition, to: TaskDefinition, options: { showEnvironmentValues: boolean }): DefinitionDiff {
  const lines: string[] = [];
  const was = byName(from.containerDefinitions);
  const now = byName(to.containerDefinitions);
  for (const [name, b] of now) {
    const a = was.get(name);
    if (!a) lines.push(`${name}: container added (${show(b.image)})`);
    else for (const change of containerChanges(a, b, options.showEnvironmentValues)) lines.push(`${name}: ${change}`);
  }
  for (const name of was.keys()) if (!now.has(name)) lines.push(`${name}: container removed`);
  for (const key of ['taskRoleArn', 'executionRoleArn', 'networkMode', 'cpu', 'memory', 'pidMode', 'ipcMode'] as const) {
    if (from[key] !== to[key]) lines.push(`task ${key}: ${show(from[key])} → ${show(to[key])}`);
  }
  if (!same(from.requiresCompatibilities, to.requiresCompatibilities))
    lines.push(`task requiresCompatibilities: ${show(from.requiresCompatibilities)} → ${show(to.requiresCompatibilities)}`);
  if (!same(from.volumes, to.volumes)) lines.push('task volumes changed (see the attached diff)');
  const before = JSON.stringify(comparable(from), null, 2).split('\n');
  const after = JSON.stringify(comparable(to), null, 2).split('\n');
  const name = (td: TaskDefinition) => (td.family && td.revision ? `${td.family}:${td.revision}` : (td.family ?? 'task definition'));
  const unified = unifiedDiff(before, after, name(from), to.revision ? name(to) : `${name(from)} (to be registered)`);
  // Anything else that differs (health checks, ulimits, mount points…) is in the file only.
  if (unified && lines.length === 0) lines.push('other settings differ (see the attached diff)');
  return { lines, unified };
}

/**
 * A unified diff (3 lines of context) of two line lists, from their longest common subsequence.
 * Task definitions are a few hundred lines: the quadratic table is small.
 */
export function unifiedDiff(a: string[], b: string[], fromName: string, toName: string, context = 3): string {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  type Op = { kind: ' ' | '-' | '+'; text: string; ai: number; bi: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ kind: ' ', text: a[i]!, ai: i++, bi: j++ });
    else if (j < m && (i === n || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ kind: '+', text: b[j]!, ai: i, bi: j++ });
    else ops.push({ kind: '-', text: a[i]!, ai: i++, bi: j });
  }
  if (ops.every((o) => o.kind === ' ')) return '';
  const out = [`--- ${fromName}`, `+++ ${toName}`];
  let k = 0;
  while (k < ops.length) {
    if (ops[k]!.kind === ' ') {
      k++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change
    // that is at most 2×context lines from the next one.
    const start = Math.max(0, k - context);
    let end = k;
    for (let q = k; q < ops.length; q++) {
      if (ops[q]!.kind !== ' ') end = q;
      else if (q - end > 2 * context) break;
    }
    const stop = Math.min(ops.length, end + context + 1);
    const hunk = ops.slice(start, stop);
    const aLines = hunk.filter((o) => o.kind !== '+').length;
    const bLines = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${hunk[0]!.ai + (aLines ? 1 : 0)},${aLines} +${hunk[0]!.bi + (bLines ? 1 : 0)},${bLines} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.text}`);
    k = stop;
  }
  return `${out.join('\n')}\n`;
}
