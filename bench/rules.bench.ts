/**
 * What write rules cost a relay: a SQLite store applies 20,000 ops from a device (single-field
 * updates of 1,000 records, 100 ops per transaction, as a session hands them over), once without
 * rules and once judging each by a write rule over the record and the token's claims
 * (`{ "assignee": { "$auth": "sub" } }`, every op allowed, so both runs store the same).
 * - rules.apply_ops_per_s_without_rules, rules.apply_ops_per_s_with_write_rules
 * - rules.judge_us_per_op: the difference, per op.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlazeDB } from '../src/db/index.ts';
import type { Op } from '../src/ops/op.ts';
import { Rules } from '../src/rules/index.ts';
import { SeededRandom } from '../src/util/prng.ts';
import { type Benchmark, type Figure, timed } from './harness.ts';

const RECORDS = 1_000;
const OPS = 20_000;
const BATCH = 100;
const RULES = Rules.parse({ collections: { bugs: { read: true, write: { assignee: { $auth: 'sub' } } } } });
const CLAIMS = { sub: 'ann' };

/** The device's ops: inserts of every record, then updates of random ones. */
async function deviceOps(): Promise<{ inserts: Op[]; updates: Op[] }> {
  const device = await BlazeDB.open({ storage: 'memory', dbId: 'bench', random: new SeededRandom(5) });
  const bugs = device.collection('bugs');
  const random = new SeededRandom(6);
  const ids: string[] = [];
  for (let i = 0; i < RECORDS; i++) ids.push(bugs.insertNow({ assignee: 'ann', title: `bug ${i}`, priority: i % 10 }));
  for (let i = 0; i < OPS; i++) bugs.updateNow(ids[random.int(RECORDS)] as string, { priority: random.int(100) });
  const all = device.engine.opsAfter(device.nodeId, 0, RECORDS + OPS);
  await device.close();
  return { inserts: all.slice(0, RECORDS), updates: all.slice(RECORDS) };
}

/** Ops per second a fresh relay store applies the updates at (the inserts go first, untimed). */
async function applyRate(ops: { inserts: Op[]; updates: Op[] }, judged: boolean): Promise<number> {
  const path = mkdtempSync(join(tmpdir(), 'blaze-bench-rules-'));
  const relay = await BlazeDB.open({ path, dbId: 'bench', random: new SeededRandom(7) });
  const judge = judged
    ? (op: Op, before: unknown, after: unknown) => RULES.mayWrite(CLAIMS, op.collection, before as never, after as never)
    : undefined;
  try {
    relay.engine.applySync([{ kind: 'ops', ops: ops.inserts }], undefined, judge);
    const seconds = timed(() => {
      for (let i = 0; i < ops.updates.length; i += BATCH) {
        relay.engine.applySync([{ kind: 'ops', ops: ops.updates.slice(i, i + BATCH) }], undefined, judge);
      }
    });
    if (relay.engine.voidRanges().length > 0) throw new Error('the rule refused an op it should allow');
    return ops.updates.length / seconds;
  } finally {
    await relay.close();
    rmSync(path, { recursive: true, force: true });
  }
}

export const rulesBenchmark: Benchmark = {
  prefix: 'rules.',
  async run(): Promise<Figure[]> {
    const ops = await deviceOps();
    // Alternating runs, the median of three each: the machine's drift hits both alike.
    const plain: number[] = [];
    const judged: number[] = [];
    for (let i = 0; i < 3; i++) {
      plain.push(await applyRate(ops, false));
      judged.push(await applyRate(ops, true));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number;
    const without = median(plain);
    const withRules = median(judged);
    return [
      {
        name: 'rules.apply_ops_per_s_without_rules',
        value: Math.round(without),
        unit: `ops/s (${OPS} updates, ${BATCH} per transaction, SQLite)`,
      },
      { name: 'rules.apply_ops_per_s_with_write_rules', value: Math.round(withRules), unit: 'ops/s (each judged by a write rule)' },
      { name: 'rules.judge_us_per_op', value: Math.round((1e6 / withRules - 1e6 / without) * 10) / 10, unit: 'µs of relay CPU per op' },
    ];
  },
};
