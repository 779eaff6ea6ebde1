/**
 * `targets.<alias>.suspendAutoscaling` (ecspresso's `--suspend-auto-scaling`): Application Auto
 * Scaling's scaling activities (scale-in and scale-out by policies, scheduled actions) are suspended
 * while a deploy runs, and put back as they were when it ends, however it ends.
 *
 * Suspend: the service's scalable target is read, its SuspendedState noted in the state table
 * (claimed once per deploy) BEFORE anything changes, then RegisterScalableTarget sets all three to
 * true. A retried step finds its note and restores from it, never from the state it set itself.
 * Resume: the note read back, RegisterScalableTarget with exactly the noted state (only when it
 * differs), the note marked resumed so a retried step does not write again. Planning reads only.
 */
import { autoScalingClient, ecsScalableTarget, findScalableTarget, type SuspendedState } from '../aws/application-autoscaling';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import type { StateStore } from '../platform/state';
import { code, escapeText } from '../slack/format';
import { range } from './scale';

export type Suspended = Required<SuspendedState>;

const KEYS = ['DynamicScalingInSuspended', 'DynamicScalingOutSuspended', 'ScheduledScalingSuspended'] as const;
const WORDS: Record<(typeof KEYS)[number], string> = {
  DynamicScalingInSuspended: 'scale-in',
  DynamicScalingOutSuspended: 'scale-out',
  ScheduledScalingSuspended: 'scheduled',
};
export const ALL_SUSPENDED: Suspended = { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true };

/** Absent members are false (as DescribeScalableTargets reports a target never suspended). */
export const fullState = (s: SuspendedState | undefined): Suspended => Object.fromEntries(KEYS.map((k) => [k, s?.[k] === true])) as unknown as Suspended;
const same = (a: Suspended, b: Suspended) => KEYS.every((k) => a[k] === b[k]);

/** `scale-in, scheduled` — the activities suspended in `s`, or `none`. */
export const suspendedWords = (s: SuspendedState | undefined): string =>
  KEYS.filter((k) => s?.[k] === true)
    .map((k) => WORDS[k])
    .join(', ') || 'none';

/** What the suspend step did; checkpointed, and kept in the audit. */
export type SuspendResult =
  | { state: 'suspended'; previous: Suspended }
  /** Everything was suspended already (by someone else): nothing to do now, nothing to undo later. */
  | { state: 'already'; previous: Suspended }
  /** The service has no scalable target. */
  | { state: 'none' };

/** What the resume step did. */
export type ResumeResult =
  | { state: 'resumed'; restored: Suspended }
  /** Nothing was suspended by this deploy (no note, or everything was already suspended). */
  | { state: 'nothing' }
  /** The scalable target is gone (deregistered meanwhile). */
  | { state: 'gone' }
  /** `message` is Slack text; `restore`: the state to put back, when the note could be read. */
  | { state: 'failed'; message: string; restore?: Suspended };

/** The note the suspend step leaves before it changes anything. */
interface Note extends Record<string, unknown> {
  previous: Suspended;
  resumed?: boolean;
}

type Where = Pick<Target, 'cluster' | 'service'>;
/** The note outlives any deploy (a request waits days at most). */
const NOTE_TTL = 14 * 86_400;

/** The plan's line about it (read-only: DescribeScalableTargets). */
export async function suspensionPlanLine(aws: AwsSession, alias: string, where: Where): Promise<string> {
  try {
    const found = await findScalableTarget(autoScalingClient(aws), where.cluster, where.service);
    if (!found) return `⏸️ Autoscaling: \`${alias}\` has no scalable target, so there is nothing to suspend.`;
    const now = fullState(found.SuspendedState);
    const bounds = range({ min: found.MinCapacity, max: found.MaxCapacity });
    if (same(now, ALL_SUSPENDED)) return `⏸️ Autoscaling (range ${bounds}): all its scaling activities are suspended already; left as they are.`;
    return `⏸️ Autoscaling (range ${bounds}) will be suspended during the deploy (scale-in, scale-out, scheduled) and put back as it was after (suspended now: ${suspendedWords(now)}).`;
  } catch (error) {
    return `⏸️ Autoscaling will be suspended during the deploy (its scalable target could not be read now: ${escapeText((error as Error).name || 'error')}).`;
  }
}

/** Suspends every scaling activity of the service's scalable target, noting what was there first (key: one per deploy). */
export async function suspendScaling(aws: AwsSession, where: Where, state: StateStore, noteKey: string): Promise<SuspendResult> {
  const api = autoScalingClient(aws);
  const found = await findScalableTarget(api, where.cluster, where.service);
  if (!found) return { state: 'none' };
  const current = fullState(found.SuspendedState);
  // The first attempt notes the state as it found it; a retried one restores from that note.
  const first = await state.claim(noteKey, NOTE_TTL, { previous: current } satisfies Note);
  const previous = first ? current : ((await state.get<Note>(noteKey))?.previous ?? current);
  if (same(previous, ALL_SUSPENDED)) return { state: 'already', previous };
  if (!same(current, ALL_SUSPENDED)) await api.registerScalableTarget({ ...ecsScalableTarget(where.cluster, where.service), SuspendedState: ALL_SUSPENDED });
  return { state: 'suspended', previous };
}

/**
 * Puts the suspended state back as noted. Safe to run again and when nothing was suspended: no
 * note, or one already resumed, writes nothing. Permanent refusals come back as `failed`.
 */
export async function resumeScaling(
  aws: AwsSession,
  where: Where,
  state: StateStore,
  noteKey: string,
  permanent: (error: unknown) => boolean,
): Promise<ResumeResult> {
  const note = await state.get<Note>(noteKey);
  if (!note || same(note.previous, ALL_SUSPENDED)) return { state: 'nothing' };
  if (note.resumed) return { state: 'resumed', restored: note.previous };
  const api = autoScalingClient(aws);
  try {
    const found = await findScalableTarget(api, where.cluster, where.service);
    if (!found) return { state: 'gone' };
    if (!same(fullState(found.SuspendedState), note.previous))
      await api.registerScalableTarget({ ...ecsScalableTarget(where.cluster, where.service), SuspendedState: note.previous });
  } catch (error) {
    // Throttling and 5xx: thrown, so the step retries; a refusal stays a refusal.
    if (!permanent(error)) throw error;
    return { state: 'failed', message: escapeText((error as Error).message), restore: note.previous };
  }
  await state.put(noteKey, NOTE_TTL, { ...note, resumed: true });
  return { state: 'resumed', restored: note.previous };
}

/** The thread's line once the deploy ended. */
export function resumeLine(alias: string, result: ResumeResult): string {
  switch (result.state) {
    case 'resumed':
      return `▶️ Autoscaling of \`${alias}\` put back as it was before the deploy (suspended: ${suspendedWords(result.restored)}).`;
    case 'gone':
      return `⚠️ Autoscaling of \`${alias}\` could not be put back: its scalable target is gone.`;
    case 'failed':
      return `⚠️ Autoscaling of \`${alias}\` may still be suspended: putting it back failed (${result.message}). Put it back with \`aws application-autoscaling register-scalable-target\`${result.restore ? ` and ${code(`--suspended-state '${JSON.stringify(result.restore)}'`)}` : ''}.`;
    default:
      return '';
  }
}

/** The thread's line once scaling is suspended (none: the plan said there is nothing to suspend). */
export function suspendLine(alias: string, result: SuspendResult): string {
  if (result.state === 'suspended')
    return `⏸️ Autoscaling of \`${alias}\` suspended until the deploy ends (scale-in, scale-out, scheduled; suspended before: ${suspendedWords(result.previous)}).`;
  if (result.state === 'already') return `⏸️ Autoscaling of \`${alias}\` was suspended already: left as it is.`;
  return '';
}
