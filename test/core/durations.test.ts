import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/durations.js';
import { ConfigurationError } from '../../src/core/errors.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m30s', 150_000],
    ['1d', 86_400_000],
    ['30', 30_000],
    [' 10s ', 10_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '5 m', '5x', 'm5', '1h30', '-5s', '5s5'])('rejects %j naming the input', (text) => {
    expect(() => parseDuration(text, 'timeout')).toThrow(ConfigurationError);
    expect(() => parseDuration(text, 'timeout')).toThrow(/^timeout: /);
  });
});

describe('formatDuration', () => {
  it.each([
    [850, '850ms'],
    [1234, '1.23s'],
    [12_345, '12.3s'],
    [245_000, '4m05s'],
    [3_720_000, '1h02m'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
