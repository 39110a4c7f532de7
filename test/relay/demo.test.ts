/**
 * `npm run demo` runs as a user would see it: a relay process and three peers converge (the
 * desktop and the laptop over their direct link, which needs a retried LAN admission: neither
 * can check the other's token before it met the relay), and GC empties every op log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const DEMO = new URL('../../scripts/demo.ts', import.meta.url).pathname;

describe('npm run demo', () => {
  it('should show direct LAN sync, convergence with exact counters, and GC emptying every op log', () => {
    const r = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DEMO_RECORDS: '40' } });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    // A direct link between the two LAN devices (which of them dialed varies).
    assert.match(r.stdout, /desktop +syncs with .*laptop \((static|lan|inbound)\)/);
    assert.match(r.stdout, /phone +syncs with relay \(relay\)\n/);
    for (const device of ['laptop', 'desktop', 'phone'])
      assert.match(r.stdout, new RegExp(`${device} +121 tasks, likes 120 \\(expected 120\\)`));
    assert.match(r.stdout, /GC: every op log is empty/);
    assert.match(r.stdout, /after GC, a like on the phone reached the laptop: likes 121/);
  });

  it('should refuse a bad size with a one-line message', () => {
    const r = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DEMO_RECORDS: 'lots' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /DEMO_RECORDS must be a positive integer, not 'lots'/);
  });
});
