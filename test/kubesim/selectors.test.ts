import { describe, expect, it } from 'vitest';
import {
  formatLabelSelector,
  matchesFields,
  matchesLabelSelector,
  matchesRequirements,
  parseFieldSelector,
  parseLabelSelector,
  SelectorParseError,
  unsupportedField,
} from '../../sandbox/kubesim/selectors.js';
import type { KObject } from '../../sandbox/kubesim/types.js';

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front', 'pod-template-hash': 'abc' };
  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app=api', false],
    ['app!=api', true],
    ['app=web,tier=front', true],
    ['tier in (front, back)', true],
    ['tier notin (front)', false],
    ['app,tier', true],
    ['!canary', true],
    ['!app', false],
    ['missing!=x', true],
    ['app in (web),!canary,pod-template-hash=abc', true],
    ['', true],
  ])('%s → %s', (sel, expected) => {
    expect(matchesRequirements(labels, parseLabelSelector(sel))).toBe(expected);
  });

  it('rejects bad syntax', () => {
    expect(() => parseLabelSelector('app=(web')).toThrow(SelectorParseError);
  });

  it('matches structured selectors with expressions; formats them like Scale.status.selector', () => {
    const sel = {
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In' as const, values: ['front'] },
        { key: 'canary', operator: 'DoesNotExist' as const },
      ],
    };
    expect(matchesLabelSelector(labels, sel)).toBe(true);
    expect(matchesLabelSelector({ app: 'web' }, sel)).toBe(false);
    expect(formatLabelSelector(sel)).toBe('app=web,tier in (front),!canary');
    expect(matchesLabelSelector(labels, undefined)).toBe(true);
  });
});

describe('field selectors', () => {
  const pod: KObject = { metadata: { name: 'p', namespace: 'ns' }, status: { phase: 'Running' } };
  it('match metadata.name, metadata.namespace and status.phase', () => {
    expect(matchesFields(pod, parseFieldSelector('metadata.name=p'))).toBe(true);
    expect(matchesFields(pod, parseFieldSelector('metadata.name=p,metadata.namespace=other'))).toBe(false);
    expect(matchesFields(pod, parseFieldSelector('status.phase!=Pending'))).toBe(true);
    expect(matchesFields(pod, parseFieldSelector('status.phase==Pending'))).toBe(false);
  });
  it('knows which fields each kind supports', () => {
    expect(unsupportedField('Pod', parseFieldSelector('status.phase=Running'))).toBeUndefined();
    expect(unsupportedField('Deployment', parseFieldSelector('status.phase=Running'))).toBe('status.phase');
    expect(unsupportedField('Event', parseFieldSelector('involvedObject.name=x'))).toBeUndefined();
  });
});
