/**
 * A fleet run (`/ecs status <selector>`, `/ecs verify <selector>`) on AWS's own orchestration: a
 * durable map over the run's accounts (one item per account, at most MAX_ACCOUNTS_IN_FLIGHT at
 * once), each item one checkpointed step that runs the account's services through the run's
 * FleetRunner (src/fleet/fanout.ts: ≤ 5 AWS calls in flight per account, backoff on throttling,
 * failures as results). A crash resumes with the accounts already done taken from their
 * checkpoints. The thread gets one living summary (edited a few times while the run goes on), the
 * whole result as CSV and JSON in one file share, and the parent marked by the worst verdict.
 *
 * Replay rules: whatever touches AWS runs inside a step; the summary's edits while items run are
 * idempotent edits of one message (a replay may repeat one, never add a message); the files are
 * claimed once per run.
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import type { WebClient } from '@slack/web-api';
import type { AuditLog } from '../audit/audit';
import type { Config } from '../config/schema';
import { FleetRunner, type FanOutOptions } from '../fleet/fanout';
import { servicePin } from '../fleet/pin';
import { parseSelector } from '../fleet/selector';
import { countVerdicts, overall, renderSummary, resultsCsv, resultsJson, SummaryThrottle } from '../fleet/summary';
import { fleetTask } from '../fleet/tasks';
import type { CatalogReader, FleetResult, FleetService } from '../fleet/types';
import type { Logger } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { runPostKey } from '../platform/state-keys';
import { escapeText, quantity } from '../slack/format';
import type { LivingMessage, ThreadOutput } from '../slack/thread-output';
import type { FleetWorkflowInput } from './inputs';
import { postOnce } from './post-once';
import { RETRY } from './run-kit';
import { remainingTime, workflowThread } from './thread';

/** Accounts worked on at once: the map's concurrency (each account bounded further by its gate). */
export const MAX_ACCOUNTS_IN_FLIGHT = 100;
/** Edits of the summary while the run goes on: with the post, the close, the files and the parent, a run of any size stays ≤ 10 Slack writes. */
export const MAX_SUMMARY_EDITS = 2;
const SUMMARY_EDIT_INTERVAL_MS = 5_000;

export interface FleetWorkflowDeps {
  config: () => Config;
  /** Where the selector is resolved again (the worker resolved it first). */
  catalog: () => CatalogReader | Promise<CatalogReader>;
  slack: () => Promise<WebClient>;
  state: StateStore;
  audit: () => AuditLog;
  logger: Logger;
  now?: () => number;
  /** The run's bounds (tests and the benchmark); default: 5 per account, 100 services. */
  fanOut?: FanOutOptions;
  /** Called with each run's runner when it ends: the benchmark reads what the gates saw. */
  onRunner?: (runner: FleetRunner) => void;
  /** The per-service task (tests); default: status or verify through AWS (src/fleet/tasks.ts). */
  task?: typeof fleetTask;
  /** How a failed step is retried; default: a few times, seconds apart (run-kit's RETRY). */
  retryStrategy?: typeof RETRY;
}

const KIND_TITLE = { status: 'Status', verify: 'Verify' } as const;

export function createFleetWorkflow(deps: FleetWorkflowDeps) {
  return async (input: FleetWorkflowInput, context: DurableContext): Promise<{ counts: ReturnType<typeof countVerdicts> }> => {
    const { fleet } = input;
    const now = deps.now ?? Date.now;
    const logger = deps.logger.child({ runId: input.runId, fleet: fleet.kind });
    const actor = { teamId: input.teamId, userId: input.userId, ...(input.userName ? { userName: input.userName } : {}) };
    const total = fleet.batches.reduce((n, b) => n + b.length, 0);
    const heading = { kind: KIND_TITLE[fleet.kind], selector: fleet.selector, total };
    const runner = new FleetRunner(deps.fanOut);
    const task = (deps.task ?? fleetTask)(fleet.kind, deps.config(), actor);

    // This invocation's view of the thread and its summary message (resumed, never posted again).
    const thread = workflowThread({
      slack: deps.slack,
      channel: input.channelId,
      parentTs: input.parentTs,
      remainingMs: remainingTime(context),
      logger,
      ...(input.parentText ? { parentText: input.parentText } : {}),
    });
    let view: Promise<{ out: ThreadOutput; summary?: LivingMessage }> | undefined;
    const summaryView = () =>
      (view ??= thread().then(async (out) => ({
        out,
        ...(fleet.summaryTs ? { summary: await out.living(renderSummary({ ...heading, running: true }, []), undefined, fleet.summaryTs) } : {}),
      })));

    // The selector is resolved once per invocation; each account's step keeps its own aliases.
    let catalog: Promise<Map<string, FleetService>> | undefined;
    const services = () =>
      (catalog ??= Promise.resolve(deps.catalog())
        .then((reader) => reader.select(parseSelector(fleet.selector)))
        .then((list) => new Map(list.map((s) => [s.alias, s])))
        .catch((error: unknown) => {
          catalog = undefined; // the step's retry reads again
          throw error;
        }));
    const arns = new Map<string, string>();

    const seen: FleetResult[] = [];
    const throttle = new SummaryThrottle(
      async () => {
        const { summary } = await summaryView();
        summary?.update(renderSummary({ ...heading, running: true }, seen, arns));
      },
      { intervalMs: SUMMARY_EDIT_INTERVAL_MS, maxEdits: MAX_SUMMARY_EDITS, now },
    );

    const batch = await context.map(
      'accounts',
      fleet.batches,
      (item, aliases) =>
        item.step(
          'run',
          async () => {
            const known = await services();
            // The service the worker authorised, or none: a refresh may have given the alias to another since.
            const same = (s: FleetService) => fleet.pins?.[s.alias] === undefined || fleet.pins[s.alias] === servicePin(s);
            const found = aliases.flatMap((a) => (known.has(a) && same(known.get(a)!) ? [known.get(a)!] : []));
            for (const s of found) arns.set(s.alias, s.serviceArn);
            const gone: FleetResult[] = aliases
              .filter((a) => !found.some((s) => s.alias === a))
              .map((alias) => ({
                alias,
                accountId: '',
                region: '',
                verdict: 'error',
                summary: known.has(alias)
                  ? 'not run: the alias names another service since the command (the catalog was refreshed); run the command again'
                  : 'no longer matches the selector (removed from the catalog since the command)',
              }));
            const results = await runner.run(found, task.run, (r) => {
              seen.push(r);
              throttle.changed();
            });
            return [...results, ...gone];
          },
          { retryStrategy: deps.retryStrategy ?? RETRY },
        ),
      // Every account runs whatever happens to the others: one that fails for good is results too (below).
      { maxConcurrency: MAX_ACCOUNTS_IN_FLIGHT, itemNamer: (_aliases, i) => `account-${i}`, completionConfig: { toleratedFailurePercentage: 100 } },
    );
    // An account whose step failed for good is still a result: each of its services, with why.
    const results = batch.all.flatMap((item): FleetResult[] =>
      item.result
        ? item.result
        : fleet.batches[item.index]!.map((alias) => ({
            alias,
            accountId: '',
            region: '',
            verdict: 'error',
            summary: `not run: ${item.error?.message ?? 'the step did not finish'}`,
          })),
    );
    task.close();
    const counts = countVerdicts(results);
    deps.onRunner?.(runner);

    await context.step(
      'finish',
      async () => {
        await throttle.stop();
        const { out, summary } = await summaryView();
        // Replayed accounts (done in an earlier invocation) gave no links here: read them, if the catalog answers.
        if (arns.size < results.length)
          for (const s of (await services().catch(() => new Map<string, FleetService>())).values()) arns.set(s.alias, s.serviceArn);
        const text = renderSummary(heading, results, arns);
        if (summary) await summary.close(text);
        else await out.post(text);
        // Claimed once per run; released if not even the comment could be posted, so the step's retry posts it.
        await postOnce(deps.state, runPostKey(input.runId, 'files'), 86_400, async () => {
          const stamp = new Date(input.startedAt).toISOString().slice(0, 19).replace(/[:T]/g, '-');
          await out.postWithFile(`The whole result: ${quantity(results.length, 'service')}, as CSV and JSON.`, [
            { filename: `${fleet.kind}-${stamp}.csv`, title: `${heading.kind} of ${fleet.selector} (CSV)`, content: resultsCsv(results) },
            {
              filename: `${fleet.kind}-${stamp}.json`,
              title: `${heading.kind} of ${fleet.selector} (JSON)`,
              content: resultsJson({ kind: fleet.kind, selector: fleet.selector }, results),
            },
          ]);
        });
        const line = `${escapeText(fleet.selector)}: ${quantity(results.length, 'service')}, ${counts.fail} failing, ${counts.error} not reachable, ${counts.warn} with warnings, ${counts.ok} ok`;
        await deps
          .audit()
          .complete(input.audit, { outcome: overall(counts), durationMs: now() - input.startedAt, reason: line, threadTs: input.parentTs, detail: { counts } })
          .catch((error: unknown) => logger.error('audit completion failed', { error }));
        await out.finish({ outcome: overall(counts), summary: line });
      },
      { retryStrategy: deps.retryStrategy ?? RETRY },
    );
    return { counts };
  };
}
