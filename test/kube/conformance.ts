/** Paths into the shared kubectl-rollout conformance tables (`<repo>/../shared/conformance`). */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const rolloutConformanceDir = join(repoRoot, '..', 'shared', 'conformance', 'kubectl-rollout');

export function readRolloutConformance<T>(file: string): T {
  return JSON.parse(readFileSync(join(rolloutConformanceDir, file), 'utf8')) as T;
}
