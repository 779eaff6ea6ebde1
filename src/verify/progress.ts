import type { LivingMessage } from '../slack/thread-output';
import { renderOutcome, renderProgress } from './render';
import type { CheckResult } from './types';

/** Posts a living message (ThreadOutput.living); undefined when Slack could not take it. */
export type OpenLivingMessage = (text: string) => Promise<LivingMessage | undefined>;

/**
 * One verify's progress in Slack, as a single message edited in place: opened with the first
 * result (so the first thing the thread shows is a result, not an intro waiting a second for its
 * first edit), then brought up to date as results and newly planned checks arrive, and at the end
 * turned into the outcome (the counts). The findings themselves follow once, after it.
 */
export class VerifyProgress {
  private readonly results: CheckResult[] = [];
  private planned = 0;
  private message?: Promise<LivingMessage | undefined>;
  private failure?: unknown;

  constructor(
    private readonly intro: { running: string; done: string },
    private readonly open: OpenLivingMessage,
  ) {}

  /** For the engine's onResult; synchronous, so no check waits on Slack. */
  readonly onResult = (result: CheckResult): void => {
    this.results.push(result);
    this.show();
  };

  /** For the engine's onPlanned: the total grows as finished checks discover more. */
  readonly onPlanned = (planned: number): void => {
    this.planned = planned;
    if (this.message) this.show();
  };

  /**
   * The progress message becomes the outcome. Returns false when there is no such message (Slack
   * could not take it), so the caller posts the outcome as a reply of its own.
   */
  async finish(results: CheckResult[]): Promise<boolean> {
    const message = await this.message;
    if (this.failure) throw this.failure;
    if (!message) return false;
    await message.close(renderOutcome(this.intro.done, results));
    return true;
  }

  private show(): void {
    const text = () => renderProgress(this.intro.running, this.results, this.planned);
    if (!this.message) {
      // Kept, not thrown here: the engine would take it for a failing check. finish() rethrows it.
      this.message = this.open(text()).catch((error: unknown) => {
        this.failure = error;
        return undefined;
      });
      return;
    }
    void this.message.then((m) => m?.update(text()));
  }
}
