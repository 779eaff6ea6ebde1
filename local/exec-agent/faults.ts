/**
 * Misbehaviour the local agent can be told to show on the data channel, so the client's
 * reliability code (acks, reordering, duplicates, retransmission, digests, early close) is
 * exercised against something that actually does these things, not against hand-fed frames.
 *
 * Sequence-number selectors name messages of the agent → client stream (handshake messages
 * included: with a KMS key, 0–2 are the handshake and output starts at 3). A selector is a list
 * of sequence numbers or a predicate.
 */
export type SeqSelector = readonly number[] | ((sequenceNumber: number) => boolean);

export interface ExecFaults {
  /** The first transmission of these messages is lost; only the agent's retransmission gets through. */
  dropFirstSend?: SeqSelector;
  /** These messages are delivered twice in a row (a retransmission that crossed the ack). */
  duplicate?: SeqSelector;
  /** These messages are held back and delivered right after the next message (arrive out of order). */
  reorder?: SeqSelector;
  /** The first transmission of these messages carries a wrong payload digest (retransmissions are intact). */
  corruptDigest?: SeqSelector;
  /** The agent waits this long before acknowledging each client message. */
  ackDelayMs?: number;
  /**
   * The connection is cut (TCP-style, no close frame, no channel_closed) right after this many
   * output_stream_data first transmissions. The process keeps running, as it does in AWS.
   */
  closeAfterMessages?: number;
}

export const matches = (selector: SeqSelector | undefined, seq: number): boolean =>
  !selector ? false : typeof selector === 'function' ? selector(seq) : selector.includes(seq);

/** Where faults come from: one session's, else the next-session queue's, else the global ones. */
export class ExecFaultController {
  private global: ExecFaults = {};
  private readonly perSession = new Map<string, ExecFaults>();
  private readonly queue: ExecFaults[] = [];

  /** Faults for every session that has none of its own (replaces the previous global set). */
  set(faults: ExecFaults): void {
    this.global = { ...faults };
  }
  /** Faults for one session (its id is in ExecuteCommand's answer). */
  forSession(sessionId: string, faults: ExecFaults): void {
    this.perSession.set(sessionId, { ...faults });
  }
  /** Faults for the next session that connects, whatever its id (for flows where the bot calls ExecuteCommand). */
  forNextSession(faults: ExecFaults): void {
    this.queue.push({ ...faults });
  }
  clear(): void {
    this.global = {};
    this.perSession.clear();
    this.queue.length = 0;
  }

  /** @internal Called once per session when its client is accepted. */
  take(sessionId: string): ExecFaults {
    const own = this.perSession.get(sessionId);
    if (own) return own;
    return this.queue.shift() ?? { ...this.global };
  }
}
