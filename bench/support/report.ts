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
