/**
 * gantry's smoke test — HTTP checks that tell a healthy release from a broken one — as a library.
 * The deploy and rollback steps chain it (deploy → smoke → rollback on failure):
 *
 *   const checks = parseSmokeChecks([{ url: 'https://api.example.com/api/health/', 'expect-json': { status: 'ok' } }]);
 *   const report = await runSmokeTest({ checks, deadlineMs: 120_000 }, { logger, signal });
 *   if (!report.passed) … roll back; report.exitCode is 1 (unhealthy) or 3 (could not reach anything)
 *
 * Stable API: runSmokeTest, parseSmokeChecks / parseChecksDocument, SmokeReport and its parts,
 * smokeTestStep (the action body) and readSmokeOptions (inputs → options). Everything else is
 * exported for tests and may change.
 */
export {
  CHECK_DEFAULTS,
  DEFAULT_DEADLINE_MS,
  parseChecksDocument,
  parseSmokeChecks,
  type CheckSettings,
  type SmokeCheck,
} from './checks.js';
export { httpProbe, type HttpProbe, type ProbeRequest } from './probe.js';
export {
  renderReportText,
  renderSummaryMarkdown,
  type CheckReport,
  type FailureEvidence,
  type SmokeOutcome,
  type SmokeReport,
} from './report.js';
export { runSmokeTest, type SmokeDeps, type SmokeOptions } from './run.js';
export {
  SMOKE_INPUT_NAMES,
  readSmokeOptions,
  reportSmokeResult,
  smokeTestStep,
  type SmokeStepContext,
} from './step.js';
export type { FailureClass, ProbeResult } from './verdict.js';
