#!/usr/bin/env node
// `npm test`: installs what is missing (npm deps, system components), then lint, format check,
// typecheck, hermetic tests, integration tests. Stops at the first failing step.
//   npm test -- --unit     skip the integration tests
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeModules, ensureSystem, log, root, run } from './lib.mjs';

const unitOnly = process.argv.includes('--unit');
ensureNodeModules();
if (!unitOnly) ensureSystem();

const bin = (name) => join(root, 'node_modules', '.bin', name);
const reports = mkdtempSync(join(tmpdir(), 'gantry-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };

function vitest(project) {
  const out = join(reports, `${project}.json`);
  const code = run(bin('vitest'), [
    'run',
    '--project',
    project,
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
  ]);
  try {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    totals.skipped += r.numPendingTests + r.numTodoTests;
  } catch {
    totals.failed += 1; // no report: the run itself broke
  }
  return code;
}

const steps = [
  ['lint (eslint)', () => run(bin('eslint'), ['.'])],
  ['format (prettier --check)', () => run(bin('prettier'), ['--check', '--log-level', 'warn', '.'])],
  ['typecheck (tsc)', () => run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'])],
  ['hermetic tests (vitest unit)', () => vitest('unit')],
  ...(unitOnly ? [] : [['integration tests (vitest itg)', () => vitest('itg')]]),
];

let failed;
for (const [name, step] of steps) {
  const started = performance.now();
  log(`▸ ${name}`);
  const code = step();
  log(`${code === 0 ? 'ok' : 'FAILED'} ${name} (${((performance.now() - started) / 1000).toFixed(1)}s)`);
  if (code !== 0) {
    failed = name;
    break;
  }
}
rmSync(reports, { recursive: true, force: true });
const summary = `tests: ${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`;
console.log(summary);
// .ci/run repeats it as its closing line, after the checks that follow the tests
mkdirSync(join(root, '.gantry'), { recursive: true });
writeFileSync(join(root, '.gantry', 'test-summary.txt'), summary + '\n');
if (failed) {
  console.error(`[gantry] npm test failed at: ${failed}`);
  process.exit(1);
}
