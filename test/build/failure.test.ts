// Failure classification against real build logs captured from buildx 0.13 / buildah 1.28 here
// (test/build/fixtures/*.log; the push failures came from a loopback proxy answering 503/429 in front of a registry).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyBuildFailure, lastLines } from '../../src/build/failure.js';

const log = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'fixtures', `${name}.log`), 'utf8');

describe('classifyBuildFailure', () => {
  it.each([
    ['buildx-copy-missing', 'build'],
    ['buildx-run-failed', 'build'],
    ['buildx-parse-error', 'build'],
    ['buildx-unknown-target', 'build'],
    ['buildah-copy-missing', 'build'],
    ['buildah-run-failed', 'build'],
    ['buildx-push-503', 'transient'],
    ['buildx-push-429', 'transient'],
    ['buildah-push-503', 'transient'],
  ])('%s → %s', (name, kind) => {
    expect(classifyBuildFailure(log(name))).toBe(kind);
  });

  it.each([
    ['ERROR: failed to push r/x:1: unexpected status: 401 Unauthorized', 'other'],
    ['ERROR: denied: requested access to the resource is denied', 'other'],
    // a refused credential is final even when the log also shows a transient error before it
    [
      '#7 pushing layers: 503 Service Unavailable, retrying\nERROR: failed to push r/x:1: unexpected status: 403 Forbidden',
      'other',
    ],
    [
      'ERROR: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection reset by peer',
      'transient',
    ],
    ['ERROR: something nobody has seen before', 'other'],
  ])('%s → %s', (text, kind) => {
    expect(classifyBuildFailure(text)).toBe(kind);
  });

  it('keeps the last non-empty lines', () => {
    expect(lastLines('a\n\nb\nc\n\n', 2)).toBe('b\nc');
  });
});
