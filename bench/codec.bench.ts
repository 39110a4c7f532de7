/**
 * Codec figures: the size of one update op, alone and in an LZ4'd batch, and encode/decode
 * throughput on W5 against JSON and msgpackr (records mode) on the same ops, same run.
 * Every codec works on batches of 100 ops, the unit the sync layer ships.
 */
import { Packr } from 'msgpackr';
import { compressBlock, decodeBatch, encodeBatch, encodeOp } from '../src/codec/index.ts';
import type { Op } from '../src/ops/op.ts';
import { SeededRandom } from '../src/util/prng.ts';
import { type Benchmark, consume, type Figure, medianSeconds } from './harness.ts';
import { priorityUpdates, randomId, type W5Object, w5 } from './workload.ts';

const W5_OPS = 100_000;
const BATCH = 100;

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

function jsonEncode(batch: W5Object[]): string {
  return JSON.stringify(
    batch.map((o) => ({
      id: b64(o.id),
      ts: { wall: o.ts.wall, counter: o.ts.counter, node: b64(o.ts.node) },
      collection: o.collection,
      record: b64(o.record),
      fields: o.fields,
    })),
  );
}

function jsonDecode(text: string): W5Object[] {
  return (
    JSON.parse(text) as {
      id: string;
      ts: { wall: number; counter: number; node: string };
      collection: string;
      record: string;
      fields: { priority: number };
    }[]
  ).map((o) => ({
    id: unb64(o.id),
    ts: { wall: o.ts.wall, counter: o.ts.counter, node: unb64(o.ts.node) },
    collection: o.collection,
    record: unb64(o.record),
    fields: o.fields,
  }));
}

interface Codec<T, E> {
  name: string;
  items: T[][];
  encode(batch: T[]): E;
  decode(encoded: E): unknown;
  size(encoded: E): number;
}

function measureCodec<T, E>(codec: Codec<T, E>): Figure[] {
  const encoded = codec.items.map((b) => codec.encode(b));
  const bytes = encoded.reduce((s, e) => s + codec.size(e), 0);
  const encodeS = medianSeconds(() => {
    for (const b of codec.items) consume(codec.encode(b));
  }, 5);
  const decodeS = medianSeconds(() => {
    for (const e of encoded) consume(codec.decode(e));
  }, 5);
  return [
    { name: `codec.${codec.name}encode_ops_per_s`, value: Math.round(W5_OPS / encodeS), unit: 'ops/s' },
    { name: `codec.${codec.name}decode_ops_per_s`, value: Math.round(W5_OPS / decodeS), unit: 'ops/s' },
    { name: `codec.${codec.name}w5_bytes_per_op`, value: round(bytes / W5_OPS, 1), unit: 'bytes' },
  ];
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function opSizes(): Figure[] {
  const random = new SeededRandom(1);
  const records = Array.from({ length: 10_000 }, () => randomId(random));
  // A device that has written 100k ops: its sequence number takes 3 bytes, as it would in W2.
  const [single] = priorityUpdates(1, records, random, 100_000) as [Op];
  const batch = priorityUpdates(
    BATCH,
    Array.from({ length: BATCH }, () => randomId(random)),
    random,
    100_000,
  );
  // 100 ops on 100 different records.
  const distinct = batch.map((op, i) => ({ ...op, record: records[i] as string }));
  const raw = encodeBatch(distinct);
  return [
    { name: 'codec.update_op_bytes', value: encodeOp(single).length, unit: 'bytes' },
    { name: 'codec.update_op_bytes_batch100', value: round(raw.length / BATCH, 2), unit: 'bytes/op' },
    { name: 'codec.update_op_bytes_batch100_lz4', value: round(compressBlock(raw).length / BATCH, 2), unit: 'bytes/op' },
  ];
}

export const codecBenchmark: Benchmark = {
  prefix: 'codec.',
  run() {
    const { ops, objects } = w5(W5_OPS, new SeededRandom(5));
    const packr = new Packr({ useRecords: true, structures: [] });
    return [
      ...opSizes(),
      ...measureCodec<Op, Uint8Array>({
        name: '',
        items: batches(ops, BATCH),
        encode: encodeBatch,
        decode: decodeBatch,
        size: (e) => e.length,
      }),
      ...measureCodec<W5Object, string>({
        name: 'json.',
        items: batches(objects, BATCH),
        encode: jsonEncode,
        decode: jsonDecode,
        size: (e) => Buffer.byteLength(e),
      }),
      ...measureCodec<W5Object, Uint8Array>({
        name: 'msgpackr_records.',
        items: batches(objects, BATCH),
        encode: (b) => packr.pack(b),
        decode: (e) => packr.unpack(e),
        size: (e) => e.length,
      }),
    ];
  },
};
