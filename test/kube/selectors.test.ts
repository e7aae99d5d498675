import { describe, expect, it } from 'vitest';
import { matchesSelector, selectorString } from '../../src/kube/selectors.js';

describe('label selectors', () => {
  const sel = {
    matchLabels: { app: 'api' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['web', 'edge'] },
      { key: 'canary', operator: 'DoesNotExist' },
    ],
  };
  it('matches labels and expressions', () => {
    expect(matchesSelector({ app: 'api', tier: 'web' }, sel)).toBe(true);
    expect(matchesSelector({ app: 'api', tier: 'db' }, sel)).toBe(false);
    expect(matchesSelector({ app: 'api', tier: 'web', canary: 'y' }, sel)).toBe(false);
    expect(matchesSelector({ app: 'api' }, undefined)).toBe(false);
  });
  it('renders a labelSelector query', () => {
    expect(selectorString(sel)).toBe('app=api,tier in (web,edge),!canary');
  });
});
