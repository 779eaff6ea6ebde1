/**
 * Durations as people type them in Slack: `30m`, `1h`, `2h30m`, `1d`, `1d12h` (days, hours and
 * minutes, in that order, each at most once). Minutes are the unit: nothing shorter makes sense
 * for silencing notifications.
 */
const DURATION = /^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?$/i;

/** Minutes in `text`, or undefined when it is not a duration (an empty one included). */
export function parseMinutes(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match || !(match[1] || match[2] || match[3])) return undefined;
  const [, days = '0', hours = '0', minutes = '0'] = match;
  return Number(days) * 1440 + Number(hours) * 60 + Number(minutes);
}

/** `1 d`, `2 h 30 min`, `45 min`. */
export function describeMinutes(total: number): string {
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const minutes = total % 60;
  const parts = [days ? `${days} d` : '', hours ? `${hours} h` : '', minutes ? `${minutes} min` : ''].filter(Boolean);
  return parts.length ? parts.join(' ') : '0 min';
}

/** `14:05 UTC` on the same UTC day as `now`, else `2026-12-06 14:05 UTC`. */
export function describeUtcTime(at: Date, now: Date): string {
  const iso = at.toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}
