/**
 * What the container of a one-off task (RunTask) does once it runs, by its command: the lines it
 * prints over time and how it ends. These are the programs of the local world's images (the web
 * image's `bin/migrate`, `bin/reindex`, `bin/import`, `bin/search-reindex`, `bin/restore-db`, and the usual `sleep` and `echo`); a command
 * the image does not have fails to start, as the container runtime would say.
 */

export interface ProgramRun {
  /** Lines with their time in ms after the container started. */
  lines: Array<[offsetMs: number, text: string]>;
  /** When the program ends on its own (ms after start), with its exit code. */
  endsAfterMs: number;
  exitCode: number;
}

export type Program = ProgramRun | { cannotStart: string };

const MIGRATIONS = ['0040_create_orders', '0041_add_orders_index', '0042_backfill_totals'];

function migrate(args: string[], env: Record<string, string>): ProgramRun {
  const to = args.find((a) => a !== '--to') ?? 'latest';
  const lines: ProgramRun['lines'] = [
    [0, `migrate: connecting to db.internal:5432 (lock timeout ${env.MIGRATE_LOCK_TIMEOUT ?? '10'}s)`],
    [300, 'migrate: acquired advisory lock 72707369'],
  ];
  let t = 600;
  const wanted = to === 'latest' ? MIGRATIONS : MIGRATIONS.filter((m) => m.slice(0, 4) <= to.slice(0, 4));
  for (const name of wanted) {
    lines.push([t, `== ${name}: migrating`], [t + 400, `== ${name}: migrated (0.${(name.length % 7) + 2}s)`]);
    t += 700;
  }
  if (to.includes('broken')) {
    lines.push(
      [t, `== ${to}: migrating`],
      [t + 300, `PG::UndefinedColumn: ERROR:  column "legacy_id" of relation "orders" does not exist`],
      [t + 310, `== ${to}: failed, rolled back`],
      [t + 320, 'migrate: 1 migration failed; the schema was left at the last one applied'],
    );
    return { lines, endsAfterMs: t + 400, exitCode: 2 };
  }
  lines.push([t, `migrate: done, ${wanted.length} applied, schema at ${wanted.at(-1) ?? 'the start'}`]);
  return { lines, endsAfterMs: t + 100, exitCode: 0 };
}

/** `bin/search-reindex --all-shards`: a shard every 600 ms, then a summary. */
function searchReindex(): ProgramRun {
  const shards = 6;
  const lines: ProgramRun['lines'] = [[0, `search-reindex: ${shards} shards to rebuild into orders-v8`]];
  for (let i = 1; i <= shards; i++) lines.push([i * 600, `search-reindex: shard ${i}/${shards} rebuilt (${12_000 * i} documents)`]);
  lines.push([shards * 600 + 200, 'search-reindex: alias orders -> orders-v8 switched']);
  return { lines, endsAfterMs: shards * 600 + 300, exitCode: 0 };
}

/** `bin/restore-db <snapshot>`: restores into the database, then checks it. */
function restoreDb(args: string[]): ProgramRun {
  const snapshot = args[0] ?? '';
  return {
    lines: [
      [0, `restore-db: restoring from ${snapshot}`],
      [500, 'restore-db: 12 tables restored, 1841093 rows'],
      [900, 'restore-db: integrity check passed'],
    ],
    endsAfterMs: 1000,
    exitCode: 0,
  };
}

/** `bin/tick <count> <everyMs>`: a numbered line every `everyMs` (for the benchmark). */
function tick(args: string[]): ProgramRun {
  const count = Math.min(10_000, Number(args[0] ?? 10) || 10);
  const every = Math.max(1, Number(args[1] ?? 1000) || 1000);
  return { lines: Array.from({ length: count }, (_, i) => [every * (i + 1), `tick ${i + 1}`]), endsAfterMs: every * (count + 1), exitCode: 0 };
}

export function programFor(command: string[], env: Record<string, string>): Program {
  const [exe = '', ...args] = command;
  switch (exe) {
    case 'bin/migrate':
      return migrate(args, env);
    case 'bin/reindex':
    case 'bin/import':
      return { lines: [[0, `${exe}: starting`]], endsAfterMs: 2000, exitCode: 0 };
    case 'bin/search-reindex':
      return searchReindex();
    case 'bin/restore-db':
      return restoreDb(args);
    case 'bin/tick':
      return tick(args);
    case 'sleep': {
      const seconds = args[0] === 'infinity' ? 365 * 86_400 : Number(args[0]);
      return Number.isFinite(seconds)
        ? { lines: [], endsAfterMs: seconds * 1000, exitCode: 0 }
        : { lines: [[0, `sleep: invalid time interval '${args[0]}'`]], endsAfterMs: 1, exitCode: 1 };
    }
    case 'echo':
      return { lines: [[0, args.join(' ')]], endsAfterMs: 10, exitCode: 0 };
    case 'false':
      return { lines: [], endsAfterMs: 10, exitCode: 1 };
    default:
      return {
        cannotStart: `CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${exe}": executable file not found in $PATH: unknown`,
      };
  }
}
