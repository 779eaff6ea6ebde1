import { exitMarker, quoteForShlex } from './command';

/**
 * Runs longer than a Lambda (or than ECS Exec's 20-minute idle limit) are started detached inside
 * the container, their output and exit status written to files of a per-run directory, and then
 * followed with short exec sessions from a durable workflow (src/handlers/run-workflow.ts).
 * Every argument reaches `sh` as a positional parameter: nothing the user typed is ever parsed by
 * a shell.
 */
export const runDirectory = (runId: string) => `/tmp/ecs-chatops/${runId}`;

const START = [
  'd=$1; shift',
  'mkdir -p "$d" || exit 1',
  // The inner sh outlives the exec session: its own session (setsid, where the image has it, so
  // the whole group can be signalled later), no terminal, output and status to files. The script
  // runs as its child, whose pid is kept too, so it can be stopped where there is no setsid.
  'run=nohup; command -v setsid >/dev/null 2>&1 && run="setsid nohup"',
  `$run /bin/sh -c 'd=$1; shift; "$@" </dev/null >"$d/out" 2>&1 & echo $! >"$d/child"; wait $!; echo $? >"$d/exit"' sh "$d" "$@" </dev/null >/dev/null 2>&1 &`,
  'echo $! >"$d/pid"',
  'printf "\\n%s:%s\\n" "$0" 0',
].join('\n');

/** Starts `path args…` detached; the session ends at once, reporting exit 0 when it was launched. */
export function buildDetachedStart({ runId, path, args, nonce }: { runId: string; path: string; args: readonly string[]; nonce: string }): string {
  return ['/bin/sh', '-c', START, exitMarker(nonce), runDirectory(runId), path, ...args].map(quoteForShlex).join(' ');
}

const sizeMarker = (nonce: string) => `ECSCHATOPS_SIZE_${nonce}`;

const FOLLOW = [
  // The status first, then the size: once the status exists, the size is final.
  'd=$1; o=$2',
  'e=$(cat "$d/exit" 2>/dev/null)',
  's=$(wc -c <"$d/out" 2>/dev/null || echo 0); s=$((s+0))',
  // While the script runs, stop at the last complete line: a line still being written (a `\r`
  // progress bar) is read whole by a later follow instead of in pieces that each show as a line.
  // A run of 64 KiB without a newline goes out anyway.
  'if [ -z "$e" ] && [ "$s" -gt "$o" ] && [ -n "$(tail -c +$((o+1)) "$d/out" | head -c $((s-o)) | tail -c 1)" ]; then',
  '  p=$(tail -c +$((o+1)) "$d/out" | head -c $((s-o)) | tail -n 1 | wc -c); p=$((p+0))',
  '  if [ "$p" -lt $((s-o)) ] || [ "$p" -lt 65536 ]; then s=$((s-p)); fi',
  'fi',
  'if [ "$s" -gt "$o" ]; then tail -c +$((o+1)) "$d/out" | head -c $((s-o)); fi',
  'printf "\\n%s:%s\\n" "$3" "$s"',
  'if [ -n "$e" ]; then printf "%s:%s\\n" "$0" "$e"; fi',
].join('\n');

/**
 * Prints the output written since `offset` bytes (only up to the last complete line while the
 * script runs), then a size line (the new offset) and, once the script has ended, its exit marker.
 */
export function buildFollow({ runId, offset, nonce }: { runId: string; offset: number; nonce: string }): string {
  return ['/bin/sh', '-c', FOLLOW, exitMarker(nonce), runDirectory(runId), String(offset), sizeMarker(nonce)].map(quoteForShlex).join(' ');
}

/** The whole output file, for the log attached at the end. */
export function buildDetachedLog({ runId, nonce }: { runId: string; nonce: string }): string {
  return ['/bin/sh', '-c', 'cat "$1/out" 2>/dev/null; printf "\\n%s:%s\\n" "$0" 0', exitMarker(nonce), runDirectory(runId)].map(quoteForShlex).join(' ');
}

/** Seconds a detached script has to end after SIGTERM before it is killed. */
const STOP_GRACE_SECONDS = 5;

/**
 * Ctrl-C cannot reach a detached script: its process group gets SIGTERM, then SIGKILL after a
 * grace period. Written for dash, busybox sh and bash alike:
 * - TERM, not INT: a job that sh starts in the background ignores INT for good (POSIX), so the
 *   script could neither see nor trap it;
 * - `kill -TERM "-$p"`, not `kill -INT -- "-$p"`: dash's kill refuses `--`;
 * - without setsid there is no group of its own: the script (its pid kept in `child`) and its
 *   wrapper are signalled instead.
 */
export function buildDetachedStop({ runId, graceSeconds = STOP_GRACE_SECONDS }: { runId: string; graceSeconds?: number }): string {
  const STOP = [
    'd=$1; p=$(cat "$d/pid" 2>/dev/null); c=$(cat "$d/child" 2>/dev/null)',
    '[ -n "$p" ] || exit 0',
    'alive() { kill -0 "-$p" 2>/dev/null || { [ -n "$c" ] && kill -0 "$c" 2>/dev/null; }; }',
    'kill -TERM "-$p" 2>/dev/null || kill -TERM $c "$p" 2>/dev/null',
    'i=0; while [ $i -lt $2 ] && alive; do sleep 1; i=$((i+1)); done',
    'kill -KILL "-$p" 2>/dev/null; kill -KILL $c "$p" 2>/dev/null',
    '[ -f "$d/exit" ] || echo 143 >"$d/exit"',
  ].join('\n');
  return ['/bin/sh', '-c', STOP, 'sh', runDirectory(runId), String(graceSeconds)].map(quoteForShlex).join(' ');
}

/** Splits a follow's cleaned lines into the script's output and the new offset. */
export function readFollow(lines: readonly string[], nonce: string): { output: string[]; size: number | undefined } {
  const marker = `${sizeMarker(nonce)}:`;
  let size: number | undefined;
  const output: string[] = [];
  for (const line of lines) {
    if (line.startsWith(marker)) size = Number(line.slice(marker.length));
    else output.push(line);
  }
  // The size line is preceded by a newline of ours; drop the empty line it leaves.
  if (size !== undefined && output.at(-1) === '') output.pop();
  return { output, size };
}
