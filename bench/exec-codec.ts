/**
 * `tsx bench/exec-codec.ts`: throughput of the ECS Exec receive path, in process: decode (with
 * SHA-256 digest check) every output_stream_data frame and encode its acknowledge, as the session
 * does for each frame it gets. Frames carry 1 KiB payloads, the agent's maximum chunk.
 *
 * The figure is payload megabytes (10^6 bytes) per second, median of RUNS runs over BENCH_EXEC_MB
 * megabytes each. Target: ≥ 50 MB/s. Frame overhead (120 B per 1 KiB) is not counted, so the
 * wire rate is ~12% higher than the printed one.
 */
import { decodeClientMessage, encodeAcknowledge, encodeOutputStreamData } from '../src/exec/codec';
import { median, report } from './support/report';

const PAYLOAD_BYTES = 1024;
const MB = Number(process.env.BENCH_EXEC_MB ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// Distinct frames (and payload bytes) so nothing is served from a one-entry cache.
const DISTINCT = 4096;

const frames: Buffer[] = [];
for (let seq = 0; seq < DISTINCT; seq++) {
  const payload = Buffer.alloc(PAYLOAD_BYTES, `line ${seq} of some command output\r\n`);
  frames.push(encodeOutputStreamData({ sequenceNumber: seq, payload }));
}
const framesPerRun = Math.ceil((MB * 1e6) / PAYLOAD_BYTES);

function run(count: number): { seconds: number; checksum: number } {
  let checksum = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const message = decodeClientMessage(frames[i % DISTINCT]!);
    checksum += encodeAcknowledge(message).length + message.payloadLength;
  }
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, checksum };
}

run(20_000); // warm-up: JIT, hash and buffer pools
const rates: number[] = [];
const frameRates: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const { seconds, checksum } = run(framesPerRun);
  if (checksum < framesPerRun * PAYLOAD_BYTES) throw new Error('benchmark loop did not run');
  rates.push((framesPerRun * PAYLOAD_BYTES) / 1e6 / seconds);
  frameRates.push(framesPerRun / seconds);
}
report('exec_codec_mb_s', median(rates), 'MB/s', 1);
report('exec_codec_frames_s', median(frameRates), 'frames/s', 0);
