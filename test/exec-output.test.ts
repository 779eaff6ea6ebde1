import { closeSync, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitMarker } from '../src/exec/command';
import { OutputCleaner, type OutputCleanerOptions } from '../src/exec/output';
import { OutputSpool, type SpoolOptions } from '../src/exec/spool';

const NONCE = '0123456789abcdef0123456789abcdef';
const MARK = exitMarker(NONCE);
const ESC = '\u001b';

/** Feeds `raw` in the given chunk sizes (cycled); returns every line, the partial line and the exit code. */
function clean(raw: Buffer | string, sizes: number[] = [raw.length || 1], options: OutputCleanerOptions = { nonce: NONCE }) {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const cleaner = new OutputCleaner(options);
  const lines: string[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length]!);
    lines.push(...cleaner.push(bytes.subarray(at, at + size)));
    at += size;
  }
  const partial = cleaner.partial;
  lines.push(...cleaner.end());
  return { lines, exitCode: cleaner.exitCode, partial, count: cleaner.lineCount };
}

/** A seeded generator, so a failing chunking can be reproduced. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

/** What a pty delivers for a typical maintenance script (\n already turned into \r\n). */
const SESSION = [
  `${ESC}[?1034h${ESC}]0;root@manager: /work${ESC}\\`, // keypad mode + window title (ST)
  `${ESC}(B${ESC})0${ESC}=${ESC}7`, // charset selections, keypad, save cursor
  `${ESC}[1;32mStarting backup${ESC}[0m\r\n`,
  `label: nightly — データベース 🚀\r\n`,
  `Dumping  10%\rDumping  55%\r${ESC}[KDumping 100%\r\n`,
  `${ESC}]8;;https://example.com/x${ESC}\\link${ESC}]8;;${ESC}\\ text\r\n`,
  `${ESC}]2;title with BEL\u0007spinner |\b/\b-\bdone\r\n`,
  `${ESC}[31;1m${ESC}[2KERROR${ESC}[m: disk 91% full\u0007\r\n`,
  `\r\n`,
  `last line without newline`,
  `\r\n${MARK}:3\r\n`,
].join('');
const EXPECTED = [
  'Starting backup',
  'label: nightly — データベース 🚀',
  'Dumping 100%',
  'link text',
  'spinner done',
  'ERROR: disk 91% full',
  '',
  'last line without newline',
];

describe('OutputCleaner', () => {
  it('cleans a typical session and reads the exit code', () => {
    expect(clean(SESSION)).toMatchObject({ lines: EXPECTED, exitCode: 3, count: EXPECTED.length });
  });

  it('gives the same result however the bytes are chunked', () => {
    const bytes = Buffer.from(SESSION);
    expect(clean(bytes, [1])).toMatchObject({ lines: EXPECTED, exitCode: 3 });
    expect(clean(bytes, [2, 3, 5, 7])).toMatchObject({ lines: EXPECTED, exitCode: 3 });
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(next() * (next() < 0.5 ? 8 : 1024)));
      expect(clean(bytes, sizes), `chunk sizes ${sizes.join(',')}`).toMatchObject({ lines: EXPECTED, exitCode: 3 });
    }
  });

  describe('escape sequences', () => {
    it.each([
      ['SGR colours', `${ESC}[38;5;196mred${ESC}[0m`, 'red'],
      ['cursor moves and erase', `${ESC}[2J${ESC}[H${ESC}[10;20Hat${ESC}[K`, 'at'],
      ['private modes', `${ESC}[?25l${ESC}[?1049hscreen${ESC}[?1049l${ESC}[?25h`, 'screen'],
      ['OSC ended by BEL', `${ESC}]0;title\u0007after`, 'after'],
      ['OSC ended by ST', `${ESC}]0;title${ESC}\\after`, 'after'],
      ['DCS, PM and APC strings', `${ESC}Pq#0;2;0;0;0${ESC}\\a${ESC}^pm${ESC}\\b${ESC}_apc${ESC}\\c`, 'abc'],
      ['charset selections', `${ESC}(0lqk${ESC}(B${ESC}%Gx`, 'lqkx'],
      ['two-character sequences', `${ESC}7${ESC}8${ESC}=${ESC}>${ESC}M${ESC}cok`, 'ok'],
      ['8-bit CSI and OSC (as UTF-8 C1)', `\u009b31mred\u009b0m \u009d0;t\u009cok`, 'red ok'],
      ['ESC ESC restarts', `${ESC}${ESC}[1mbold`, 'bold'],
      ['CAN cancels a sequence', `${ESC}[12\u0018x`, 'x'],
      ['other controls are dropped', `a\u0000b\u0007c\u007fd\u0085e`, 'abcde'],
      ['tabs are kept', `a\tb`, 'a\tb'],
      ['real capture from amazon-ssm-agent#519', `${ESC}[?1034hsh-4.2$ `, 'sh-4.2$ '],
    ])('%s', (_name, raw, expected) => {
      expect(clean(raw, [raw.length], {}).lines).toEqual([expected]);
    });

    it('does not let an unterminated string swallow the rest of the log', () => {
      // The line that held only the broken sequence is an empty line, as a terminal shows it.
      expect(clean(`${ESC}]0;never ended\r\nnext line\r\n`, undefined, {}).lines).toEqual(['', 'next line']);
      const long = `${ESC}]0;${'t'.repeat(10_000)}`;
      expect(clean(`${long}\r\nvisible\r\n`, [1000], {}).lines).toEqual(['', 'visible']);
    });

    it('abandons a runaway control sequence and shows what follows', () => {
      // 63 parameter characters are followed; from the 64th on it is text.
      expect(clean(`${ESC}[${'1;'.repeat(100)}mtext\r\n`, [7], {}).lines).toEqual([`${'1;'.repeat(100).slice(63)}mtext`]);
    });

    it('reads a control character inside a sequence as what it is', () => {
      expect(clean(`${ESC}[31\r\nnext\r\n`, undefined, {}).lines).toEqual(['', 'next']);
      expect(clean(`${ESC}\r\nnext\r\n`, undefined, {}).lines).toEqual(['', 'next']);
      expect(clean(`${ESC}é\r\n`, undefined, {}).lines).toEqual(['é']);
    });
  });

  describe('lines', () => {
    it('keeps only the last state of a carriage-return progress line', () => {
      expect(clean('  0%\r 50%\r100%\r\ndone\r\n', undefined, {}).lines).toEqual(['100%', 'done']);
      // The replacement text may be shorter: the line starts again, it is not overwritten in place.
      expect(clean('Downloading 100%\rDone\r\n', undefined, {}).lines).toEqual(['Done']);
    });

    it('treats \\r\\n, \\r\\r\\n and a lone \\n as one line break, also across chunks', () => {
      expect(clean('a\r\nb\r\r\nc\nd\r', [1], {}).lines).toEqual(['a', 'b', 'c', 'd']);
      expect(clean('a\r', [1], {}).lines).toEqual(['a']);
    });

    it('applies backspace, never past the start or into half a character', () => {
      expect(clean('ab\bc\r\n\b\bx\r\n🚀\by\r\n', undefined, {}).lines).toEqual(['ac', 'x', 'y']);
    });

    it('decodes UTF-8 split anywhere and turns invalid bytes into U+FFFD', () => {
      const text = 'é — データ 🚀 ok';
      expect(clean(Buffer.from(`${text}\r\n`), [1], {}).lines).toEqual([text]);
      const invalid = Buffer.concat([Buffer.from('a'), Buffer.from([0xff, 0xc3]), Buffer.from('b\r\n'), Buffer.from([0xe3, 0x83])]);
      expect(clean(invalid, [1], {}).lines).toEqual(['a\ufffd\ufffdb', '\ufffd']);
    });

    it('never throws on arbitrary bytes', () => {
      const next = random(7);
      for (let round = 0; round < 200; round++) {
        const bytes = Buffer.from(Array.from({ length: 2000 }, () => Math.floor(next() * 256)));
        expect(() => clean(bytes, [1 + Math.floor(next() * 1024)])).not.toThrow();
      }
    });

    it('splits a line without a newline, so memory stays bounded', () => {
      const cleaner = new OutputCleaner({ maxLineLength: 1000 });
      const chunk = Buffer.from('x'.repeat(1024));
      let lines = 0;
      for (let i = 0; i < 10_000; i++) {
        for (const line of cleaner.push(chunk)) {
          expect(line.length).toBe(1000);
          lines++;
        }
        expect(cleaner.partial.length).toBeLessThanOrEqual(1000);
      }
      expect(lines).toBe(10_239);
      expect(cleaner.partial.length).toBe(1000);
    });

    it('does not split a character when it splits a long line', () => {
      const { lines } = clean(`a${'🚀'.repeat(100)}\r\n`, undefined, { maxLineLength: 80 });
      expect(lines.join('')).toBe(`a${'🚀'.repeat(100)}`);
      expect(lines.map((l) => l.length)).toEqual([79, 80, 42]);
    });

    it('shows the unfinished line for the live view', () => {
      const cleaner = new OutputCleaner({});
      expect(cleaner.push(Buffer.from('done\r\nworking 10%'))).toEqual(['done']);
      expect(cleaner.partial).toBe('working 10%');
      cleaner.push(Buffer.from(`\r${ESC}[Kworking 20%`));
      expect(cleaner.partial).toBe('working 20%');
      expect(cleaner.end()).toEqual(['working 20%']);
    });

    it('refuses input after end()', () => {
      const cleaner = new OutputCleaner({});
      cleaner.end();
      expect(cleaner.end()).toEqual([]);
      expect(() => cleaner.push(Buffer.from('x'))).toThrow(/after end/);
    });
  });

  describe('exit marker', () => {
    it('is removed with the line break the wrapper adds before it', () => {
      expect(clean(`hello\r\n\r\n${MARK}:0\r\n`)).toMatchObject({ lines: ['hello'], exitCode: 0 });
      expect(clean(`hello\r\n${MARK}:0\r\n`)).toMatchObject({ lines: ['hello'], exitCode: 0 });
      // The script's own empty last line survives.
      expect(clean(`hello\r\n\r\n\r\n${MARK}:0\r\n`)).toMatchObject({ lines: ['hello', ''], exitCode: 0 });
      expect(clean(`\r\n${MARK}:0\r\n`)).toMatchObject({ lines: [], exitCode: 0 });
    });

    it('is read when split across chunks at every byte', () => {
      const raw = `out\r\n\r\n${MARK}:127\r\n`;
      for (let size = 1; size <= raw.length; size++) expect(clean(raw, [size])).toMatchObject({ lines: ['out'], exitCode: 127 });
    });

    it('is read without its final line break (the stream ended right after it)', () => {
      expect(clean(`out\r\n\r\n${MARK}:2`)).toMatchObject({ lines: ['out'], exitCode: 2 });
    });

    it('is read after a progress line left with \\r', () => {
      expect(clean(`50%\r100%\r\r\n${MARK}:0\r\n`)).toMatchObject({ lines: ['100%'], exitCode: 0 });
    });

    it('missing means unknown, and the output is kept whole', () => {
      expect(clean('partial output\r\n\r\n')).toMatchObject({ lines: ['partial output', ''], exitCode: undefined });
    });

    it('of another run, or malformed, is ordinary output', () => {
      const other = exitMarker('fedcba9876543210fedcba9876543210');
      expect(clean(`${other}:0\r\n${MARK}:x\r\n${MARK}:1234\r\n x${MARK}:0\r\n`)).toMatchObject({
        lines: [`${other}:0`, `${MARK}:x`, `${MARK}:1234`, ` x${MARK}:0`],
        exitCode: undefined,
      });
    });

    it('counts the last one', () => {
      expect(clean(`${MARK}:1\r\nlater\r\n${MARK}:0\r\n`)).toMatchObject({ lines: ['later'], exitCode: 0 });
    });

    it('never shows in the live view while it arrives', () => {
      const cleaner = new OutputCleaner({ nonce: NONCE });
      cleaner.push(Buffer.from(`done\r\n\r\n${MARK.slice(0, 20)}`));
      expect(cleaner.partial).toBe('');
      cleaner.push(Buffer.from(`${MARK.slice(20)}:0`));
      expect(cleaner.partial).toBe('');
      expect(cleaner.end()).toEqual([]);
      expect(cleaner.exitCode).toBe(0);
    });

    it('without a nonce, empty lines are not held back', () => {
      const cleaner = new OutputCleaner({});
      expect(cleaner.push(Buffer.from('a\r\n\r\n'))).toEqual(['a', '']);
    });

    it('refuses a nonce that is not hex', () => {
      expect(() => new OutputCleaner({ nonce: 'x'.repeat(32) })).toThrow(/nonce/);
    });
  });
});

describe('OutputSpool', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'spool-test-'));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });
  const create = (options: SpoolOptions = {}) => OutputSpool.create({ dir: parent, ...options });
  const numbered = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `line ${from + i}`);

  it('writes every line to a private file and counts lines and bytes', async () => {
    const spool = await create();
    const lines = ['first', '', 'データ 🚀', 'last'];
    spool.write(lines);
    const path = await spool.close();
    expect(path).toBe(spool.path);
    expect(readFileSync(path, 'utf8')).toBe('first\n\nデータ 🚀\nlast\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    expect({ lines: spool.lines, bytes: spool.bytes, fileBytes: spool.fileBytes, problem: spool.problem }).toEqual({
      lines: 4,
      bytes: Buffer.byteLength('first\n\nデータ 🚀\nlast\n'),
      fileBytes: Buffer.byteLength('first\n\nデータ 🚀\nlast\n'),
      problem: undefined,
    });
    expect(await spool.close()).toBe(path); // twice is fine
    await spool.cleanup();
    expect(existsSync(dirname(path))).toBe(false);
  });

  it('writes in batches, not per line', async () => {
    const spool = await create({ batchBytes: 1000 });
    spool.write(numbered(50)); // ~400 bytes: still in memory
    expect(statSync(spool.path).size).toBe(0);
    spool.write(numbered(100, 50)); // past 1000 bytes: a batch is written, the rest waits
    expect(statSync(spool.path).size).toBeGreaterThanOrEqual(1000);
    expect(statSync(spool.path).size).toBeLessThan(spool.bytes);
    spool.write(['tail']);
    spool.flush();
    expect(readFileSync(spool.path, 'utf8').endsWith('line 149\ntail\n')).toBe(true);
    await spool.cleanup();
  });

  it('keeps a bounded tail in memory: the last lines, oldest first', async () => {
    const spool = await create({ tailLines: 200 });
    spool.write(numbered(10_000));
    expect(spool.tail()).toEqual(numbered(200, 9800));
    const bytes = await create({ tailLines: 1000, tailBytes: 1024 });
    bytes.write(numbered(1000).map((l) => l.padEnd(99, '.')));
    const tail = bytes.tail();
    expect(tail.length).toBe(10); // 10 lines of 100 bytes fit in 1 KiB
    expect(tail.at(-1)!.startsWith('line 999')).toBe(true);
    // A single line larger than the tail keeps its end.
    bytes.write(['a'.repeat(5000) + 'END']);
    expect(bytes.tail().at(-1)!.endsWith('aEND')).toBe(true);
    expect(Buffer.byteLength(bytes.tail().join('\n'))).toBeLessThanOrEqual(1024);
    await spool.cleanup();
    await bytes.cleanup();
  });

  it('stops the file at maxFileBytes, then appends a notice and the last lines', async () => {
    const spool = await create({ maxFileBytes: 1000, batchBytes: 300, tailLines: 5 });
    const lines = numbered(500);
    spool.write(lines);
    const content = readFileSync(await spool.close(), 'utf8');
    const head = content.slice(0, content.indexOf('\n[…'));
    expect(Buffer.byteLength(head)).toBeLessThanOrEqual(1000);
    expect(head).toBe(lines.slice(0, head.split('\n').length - 1).join('\n') + '\n'); // whole lines only
    const kept = head.split('\n').length - 1;
    expect(content.slice(head.length)).toBe(
      `\n[… ${500 - kept - 5} lines not kept: the output was larger than the 1000 B kept on disk; the file has its beginning and its last lines …]\n\n${lines.slice(-5).join('\n')}\n`,
    );
    expect(spool.lines).toBe(500);
    expect(spool.bytes).toBe(Buffer.byteLength(lines.join('\n') + '\n'));
    expect(spool.problem).toMatch(/larger than the 1000 B/);
    await spool.cleanup();
  });

  it('does not repeat tail lines the file already has', async () => {
    const spool = await create({ maxFileBytes: 100, batchBytes: 1, tailLines: 50 });
    spool.write(numbered(20)); // 7–8 bytes each: the file takes the first 13
    const content = readFileSync(await spool.close(), 'utf8');
    const lines = content.split('\n').filter((l) => l.startsWith('line '));
    expect(lines).toEqual(numbered(20));
    expect(content).toContain('[… 0 lines not kept');
    await spool.cleanup();
  });

  it('survives a disk error: says so, keeps the tail, still closes', async () => {
    const spool = await create({ batchBytes: 1 });
    spool.write(['before']);
    closeSync((spool as unknown as { fd: number }).fd); // the next write fails with EBADF
    spool.write(['after 1', 'after 2']);
    expect(spool.problem).toMatch(/could not be written \(EBADF\)/);
    expect(spool.tail()).toEqual(['before', 'after 1', 'after 2']);
    expect(spool.lines).toBe(3);
    await expect(spool.close()).resolves.toBe(spool.path);
    expect(readFileSync(spool.path, 'utf8')).toBe('before\n');
    await spool.cleanup();
  });

  it('refuses writes after close', async () => {
    const spool = await create();
    await spool.close();
    expect(() => spool.write(['x'])).toThrow(/after close/);
    await spool.cleanup();
  });

  it('takes a cleaned run end to end', async () => {
    const spool = await create();
    const cleaner = new OutputCleaner({ nonce: NONCE });
    const bytes = Buffer.from(SESSION);
    for (let at = 0; at < bytes.length; at += 1024) spool.write(cleaner.push(bytes.subarray(at, at + 1024)));
    spool.write(cleaner.end());
    expect(readFileSync(await spool.close(), 'utf8')).toBe(EXPECTED.join('\n') + '\n');
    expect(cleaner.exitCode).toBe(3);
    await spool.cleanup();
  });
});
