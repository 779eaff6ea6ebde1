/** Every figure on a line of its own: `BENCH <name> <value> <unit>`. */
export function report(name: string, value: number, unit: string, digits = 2): void {
  console.log(`BENCH ${name} ${Number(value.toFixed(digits))} ${unit}`);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const median = (values: number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** Runs a bench's main, stopping the process if it takes longer than `timeoutS` (a hung emulator). */
export function runBench(name: string, main: () => Promise<void>, timeoutS: number): void {
  const guard = setTimeout(() => {
    console.error(`bench:${name} did not finish within ${timeoutS} s`);
    process.exit(1);
  }, timeoutS * 1000);
  guard.unref();
  main()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => clearTimeout(guard));
}
