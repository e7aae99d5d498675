import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  GantryError,
  describeError,
  errorMessage,
  exitCodeFor,
  isGantryError,
} from '../../src/core/errors.js';

describe('errors', () => {
  it('maps codes to the exit-code contract', () => {
    expect(exitCodeFor(new ConfigurationError('bad'))).toBe(2);
    expect(exitCodeFor(new GantryError('input', 'bad ref'))).toBe(2);
    expect(exitCodeFor(new GantryError('check-failed', 'unhealthy'))).toBe(1);
    expect(exitCodeFor(new GantryError('rollout-failed', 'x'))).toBe(1);
    expect(exitCodeFor(new GantryError('signature-invalid', 'x'))).toBe(1);
    expect(exitCodeFor(new GantryError('infrastructure', 'down'))).toBe(3);
    expect(exitCodeFor(new GantryError('not-found', 'no such image'))).toBe(1);
    expect(exitCodeFor(new GantryError('auth', 'denied'))).toBe(3);
    expect(exitCodeFor(new GantryError('timeout', 'slow'))).toBe(3);
    expect(exitCodeFor(new GantryError('command-failed', 'x'))).toBe(3);
    expect(exitCodeFor(new GantryError('cancelled', 'SIGTERM'))).toBe(3);
    expect(exitCodeFor(new Error('plain'))).toBe(3);
    expect(exitCodeFor('a string')).toBe(3);
  });

  it('keeps the cause, hint and input', () => {
    const root = new Error('ECONNRESET');
    const e = new ConfigurationError('timeout is bad', { input: 'timeout', cause: root, hint: 'use 5m' });
    expect(e.cause).toBe(root);
    expect(e.input).toBe('timeout');
    expect(isGantryError(e, 'configuration')).toBe(true);
    expect(isGantryError(e, 'auth')).toBe(false);
    expect(describeError(e)).toBe('timeout is bad\n  hint: use 5m\n  caused by: ECONNRESET');
  });

  it('errorMessage handles any thrown value', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('text')).toBe('text');
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
    expect(errorMessage(undefined)).toBe('undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(errorMessage(circular)).toBe('[object Object]');
  });
});
