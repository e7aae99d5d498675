import { describe, expect, it } from 'vitest';
import { decideLock, describeHolder, microTime } from '../../src/kube/lock.js';
import type { Lease } from '../../src/kube/types.js';

const NOW = Date.parse('2025-01-10T10:00:30Z');
function lease(holder: string | null, renew: string, duration = 60): Lease {
  return {
    metadata: {
      name: 'gantry-deploy-lock',
      annotations: { 'gantry.dev/run-url': 'https://git/r/1', 'gantry.dev/holder': 'deploy by bob' },
    },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: duration,
      acquireTime: '2025-01-10T10:00:00.000000Z',
      renewTime: renew,
    },
  };
}

describe('decideLock', () => {
  it('creates when there is no lease, takes a free or own one', () => {
    expect(decideLock(undefined, 'me', NOW)).toEqual({ action: 'create' });
    expect(decideLock(lease(null, microTime(NOW)), 'me', NOW)).toEqual({ action: 'take', why: 'free' });
    expect(decideLock(lease('me', microTime(NOW)), 'me', NOW)).toEqual({ action: 'take', why: 'ours' });
  });
  it('waits for a live holder and says who', () => {
    const d = decideLock(lease('other', '2025-01-10T10:00:20.000000Z'), 'me', NOW);
    expect(d).toMatchObject({
      action: 'wait',
      holder: 'other',
      expiresInMs: 50_000,
      runUrl: 'https://git/r/1',
    });
    if (d.action === 'wait')
      expect(describeHolder(d)).toBe(
        'other (deploy by bob), run https://git/r/1, since 2025-01-10T10:00:00.000000Z',
      );
  });
  it('takes over an expired lease', () => {
    expect(decideLock(lease('other', '2025-01-10T09:59:00.000000Z'), 'me', NOW)).toEqual({
      action: 'take',
      why: 'expired',
    });
  });
  it('writes MicroTime', () => {
    expect(microTime(Date.parse('2025-01-10T10:00:30.123Z'))).toBe('2025-01-10T10:00:30.123000Z');
  });
});
