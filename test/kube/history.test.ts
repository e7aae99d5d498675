import { describe, expect, it } from 'vitest';
import { appendHistory, lastGood, readHistory, type HistoryRecord } from '../../src/kube/history.js';

function rec(id: string, result: HistoryRecord['result'], names = ['api']): HistoryRecord {
  return {
    id,
    startedAt: '2025-01-10T10:00:00Z',
    finishedAt: '2025-01-10T10:01:00Z',
    durationMs: 60_000,
    result,
    changeCause: `deploy ${id}`,
    deployments: names.map((name) => ({
      name,
      changed: true,
      result: result === 'succeeded' ? 'succeeded' : 'rolled-back',
      images: [{ container: name, init: false, before: `${name}@sha256:old`, after: `${name}@sha256:${id}` }],
    })),
  };
}

describe('deploy history', () => {
  it('appends, replaces a record with the same id, and keeps at most `limit`', () => {
    let records: HistoryRecord[] = [];
    for (let i = 0; i < 7; i++)
      records = readHistory({ metadata: {}, data: appendHistory(records, rec(`r${i}`, 'succeeded'), 5) });
    expect(records.map((r) => r.id)).toEqual(['r2', 'r3', 'r4', 'r5', 'r6']);
    const again = readHistory({ metadata: {}, data: appendHistory(records, rec('r6', 'failed'), 5) });
    expect(again.map((r) => `${r.id}:${r.result}`).slice(-2)).toEqual(['r5:succeeded', 'r6:failed']);
  });
  it('stays under the size bound by dropping the oldest', () => {
    const big = rec('big', 'succeeded');
    big.changeCause = 'x'.repeat(200 * 1024);
    const data = appendHistory([big, { ...big, id: 'big2' }], { ...big, id: 'big3' });
    expect(Buffer.byteLength(data.records)).toBeLessThanOrEqual(512 * 1024);
    expect(readHistory({ metadata: {}, data }).map((r) => r.id)).toEqual(['big2', 'big3']);
    expect(data.schema).toBe('1');
  });
  it('a damaged ConfigMap reads as empty', () => {
    expect(readHistory({ metadata: {}, data: { records: '{oops' } })).toEqual([]);
    expect(readHistory(undefined)).toEqual([]);
  });
  it('lastGood is the newest succeeded record for the deployment', () => {
    const records = [rec('a', 'succeeded'), rec('b', 'succeeded', ['worker']), rec('c', 'rolled-back')];
    expect(lastGood(records, 'api')?.id).toBe('a');
    expect(lastGood(records, 'worker')?.id).toBe('b');
    expect(lastGood(records, 'admin')).toBeUndefined();
  });
});
