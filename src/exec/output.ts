/**
 * Turns the raw bytes of an ECS Exec session into text for people.
 *
 * The agent runs the command under a pty and sends what it reads in chunks of at most 1024 bytes,
 * cut anywhere: inside a UTF-8 sequence, between `\r` and `\n`, inside an escape sequence or the
 * exit marker. Programs see `TERM=xterm-256color`, so colours, cursor moves and window titles
 * arrive too, and progress bars redraw a line with `\r`. This reader is a small streaming state
 * machine that keeps only the current line and a few counters between chunks:
 *
 * - UTF-8 is decoded in streaming mode; invalid bytes become U+FFFD, nothing throws.
 * - Escape sequences are dropped: CSI (`ESC [` … final), OSC/DCS/SOS/PM/APC strings (to BEL or
 *   ST), two- and three-character ESC sequences such as charset selections, and their 8-bit C1
 *   forms. A runaway control sequence is abandoned after a bounded length and a string at a line
 *   break, so a stray ESC cannot swallow the rest of the log.
 * - `\r\n` is a line break; a lone `\r` followed by more text starts the line again, so only a
 *   progress line's last state survives; backspace removes a character; other controls are dropped.
 * - The marker line `ECSCHATOPS_EXIT_<nonce>:<code>` (command.ts) is removed and gives `exitCode`,
 *   as is the empty line the wrapper's leading `\n` adds when the output already ended a line.
 * - A line longer than `maxLineLength` is split, so memory stays bounded whatever the program prints.
 */
import { EXIT_MARKER_PREFIX } from './command';

export interface OutputCleanerOptions {
  /** The run's nonce (command.ts newNonce); without it no marker is looked for. */
  nonce?: string;
  /** Longest line kept, in UTF-16 code units; longer lines are split. Default 16384, at least 80. */
  maxLineLength?: number;
}

/** Where the reader is: in text or inside an escape sequence. */
const State = {
  Text: 0,
  /** After ESC. */
  Esc: 1,
  /** ESC followed by intermediates (0x20–0x2F), e.g. `ESC ( B`: one final byte follows. */
  EscIntermediate: 2,
  /** Control sequence: parameters and intermediates until a final byte 0x40–0x7E. */
  Csi: 3,
  /** OSC, DCS, SOS, PM or APC string: until BEL or ST. */
  Str: 4,
  /** ESC inside a string: `\` completes ST, anything else starts a new sequence. */
  StrEsc: 5,
} as const;
type State = (typeof State)[keyof typeof State];

/**
 * Longest control sequence followed (real ones are far shorter); beyond it the characters are text.
 * Strings (OSC, DCS, …) have no limit: nothing of them is kept, and a line break ends them.
 */
const MAX_CSI = 64;
/** Anything the text fast path must stop at: C0, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;

export class OutputCleaner {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly maxLine: number;
  private readonly marker?: string;
  private state: State = State.Text;
  private seqLength = 0;
  private line = '';
  /** A `\r` was seen: the next text starts the line again; `\n` ends it as it is. */
  private returned = false;
  /** An empty line held back: it is the wrapper's, not the program's, if the marker follows. */
  private heldEmpty = false;
  private out: string[] = [];
  private code?: number;
  private ended = false;
  private _lines = 0;

  constructor(options: OutputCleanerOptions = {}) {
    this.maxLine = Math.max(options.maxLineLength ?? 16_384, 80);
    if (options.nonce !== undefined) {
      if (!/^[0-9a-f]{16,64}$/.test(options.nonce)) throw new RangeError('nonce must be 16 to 64 lowercase hex digits');
      this.marker = `${EXIT_MARKER_PREFIX}${options.nonce}:`;
    }
  }

  /** The exit code from the last marker line; undefined if none was seen (report it as a failure). */
  get exitCode(): number | undefined {
    return this.code;
  }

  /** Complete lines returned so far. */
  get lineCount(): number {
    return this._lines;
  }

  /**
   * The unfinished last line as it currently looks, for a live view. A line that could still become
   * the marker is hidden, so the marker never flashes up in Slack.
   */
  get partial(): string {
    if (this.marker && (this.marker.startsWith(this.line) || this.line.startsWith(this.marker))) return '';
    return this.line;
  }

  /** Feeds a chunk of raw output; returns the lines it completed (without line breaks). */
  push(chunk: Uint8Array): string[] {
    if (this.ended) throw new Error('OutputCleaner.push after end()');
    this.feed(this.decoder.decode(chunk, { stream: true }));
    return this.take();
  }

  /** The output is over: returns the remaining lines, including an unfinished last line. */
  end(): string[] {
    if (this.ended) return [];
    this.ended = true;
    this.feed(this.decoder.decode());
    this.state = State.Text;
    if (this.line !== '') this.endLine();
    this.line = '';
    this.returned = false;
    // Output that ended with an empty line and no marker: that line was the program's own.
    if (this.heldEmpty) this.emit('');
    this.heldEmpty = false;
    return this.take();
  }

  private take(): string[] {
    const lines = this.out;
    this.out = [];
    this._lines += lines.length;
    return lines;
  }

  private feed(s: string): void {
    let i = 0;
    while (i < s.length) {
      if (this.state === State.Text) {
        CONTROL.lastIndex = i;
        const m = CONTROL.exec(s);
        const at = m ? m.index : s.length;
        if (at > i) this.text(s.slice(i, at));
        if (!m) return;
        this.control(s.charCodeAt(at));
        i = at + 1;
      } else if (this.sequence(s.charCodeAt(i))) {
        i++;
      } // else: the sequence was abandoned and this character is read again as text or control
    }
  }

  private text(t: string): void {
    if (this.returned) {
      this.line = '';
      this.returned = false;
    }
    this.line += t;
    while (this.line.length > this.maxLine) {
      let cut = this.maxLine;
      if (isHighSurrogate(this.line.charCodeAt(cut - 1))) cut--; // never split a character
      this.endLine(this.line.slice(0, cut));
      this.line = this.line.slice(cut);
    }
  }

  private control(c: number): void {
    switch (c) {
      case 0x0a: // LF: pty output has \r\n, which ends the line as it stands
        this.endLine();
        this.line = '';
        this.returned = false;
        return;
      case 0x0d:
        this.returned = true;
        return;
      case 0x09:
        this.text('\t');
        return;
      case 0x08: // backspace (spinners): the cursor moves back over the last character
        if (!this.returned && this.line)
          this.line = this.line.slice(0, isLowSurrogate(this.line.charCodeAt(this.line.length - 1)) && this.line.length > 1 ? -2 : -1);
        return;
      case ESC:
        this.begin(State.Esc);
        return;
      case 0x9b:
        this.begin(State.Csi);
        return;
      case 0x90: // DCS
      case 0x98: // SOS
      case 0x9d: // OSC
      case 0x9e: // PM
      case 0x9f: // APC
        this.begin(State.Str);
        return;
      default: // BEL, NUL, other C0/C1 controls, DEL: nothing to show
        return;
    }
  }

  private begin(state: State): void {
    this.state = state;
    this.seqLength = 0;
  }

  /** One character inside an escape sequence; false when the sequence is abandoned before it. */
  private sequence(c: number): boolean {
    switch (this.state) {
      case State.Esc:
        if (c === 0x5b)
          this.begin(State.Csi); // [
        else if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f)
          this.begin(State.Str); // ] P X ^ _
        else if (c >= 0x20 && c <= 0x2f) this.begin(State.EscIntermediate);
        else if (c >= 0x30 && c <= 0x7e)
          this.state = State.Text; // ESC 7, ESC =, ESC M, ESC c, …
        else if (c === ESC) this.begin(State.Esc);
        else if (c === CAN || c === SUB) this.state = State.Text;
        else return this.abandon();
        return true;
      case State.EscIntermediate:
        if (c >= 0x30 && c <= 0x7e) this.state = State.Text;
        else if (c >= 0x20 && c <= 0x2f && ++this.seqLength < 8) return true;
        else if (c === ESC) this.begin(State.Esc);
        else return this.abandon();
        return true;
      case State.Csi:
        if (c >= 0x40 && c <= 0x7e) this.state = State.Text;
        else if (c >= 0x20 && c <= 0x3f && ++this.seqLength < MAX_CSI) return true;
        else if (c === ESC) this.begin(State.Esc);
        else if (c === CAN || c === SUB) this.state = State.Text;
        else return this.abandon();
        return true;
      case State.Str:
        if (c === BEL || c === 0x9c || c === CAN || c === SUB) this.state = State.Text;
        else if (c === ESC) this.state = State.StrEsc;
        else if (c === 0x0a || c === 0x0d) return this.abandon();
        return true;
      case State.StrEsc:
        if (c === 0x5c) {
          this.state = State.Text; // ESC \ = ST
          return true;
        }
        this.begin(State.Esc); // the string ended; this ESC starts a new sequence
        return this.sequence(c);
      default:
        this.state = State.Text;
        return false;
    }
  }

  /** Not a sequence after all (or a runaway one): back to text, re-reading this character. */
  private abandon(): false {
    this.state = State.Text;
    return false;
  }

  private endLine(line = this.line): void {
    if (this.marker && line.startsWith(this.marker)) {
      const code = line.slice(this.marker.length);
      if (/^\d{1,3}$/.test(code)) {
        this.code = Number(code);
        this.heldEmpty = false; // the wrapper's own line break before the marker
        return;
      }
    }
    if (this.marker && line === '') {
      if (this.heldEmpty) this.emit('');
      this.heldEmpty = true;
      return;
    }
    if (this.heldEmpty) {
      this.emit('');
      this.heldEmpty = false;
    }
    this.emit(line);
  }

  private emit(line: string): void {
    this.out.push(line);
  }
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
