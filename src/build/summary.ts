/**
 * The job summary of a build: one row per target with digest, tags, platforms, size and duration —
 * on a pull request (nothing pushed) size and duration are what reviewers look at.
 */
import { SummaryBuilder } from '../core/summary.js';
import { formatDuration } from '../core/durations.js';
import { formatBytes, type BuildResult } from './build-images.js';

export function buildSummary(result: BuildResult): string {
  const s = new SummaryBuilder();
  const pushed = result.plan.push;
  s.heading(`build-multiarch: ${result.images.length} image(s) ${pushed ? 'pushed' : 'built (not pushed)'}`);
  s.paragraph(
    `Commit \`${result.git.sha.slice(0, 12)}\`${result.git.ref ? ` on \`${result.git.ref}\`` : ''}.`,
  );
  s.table(
    ['target', pushed ? 'reference' : 'image', 'platforms', 'tags', 'size', 'duration'],
    result.images.map((i) => [
      i.target,
      pushed && i.ref ? `\`${i.ref}\`` : i.image,
      Object.keys(i.platforms).join(', '),
      i.tags.map((t) => `\`${t}\``).join(' '),
      i.sizeBytes === undefined ? '' : formatBytes(i.sizeBytes),
      formatDuration(i.durationMs),
    ]),
  );
  if (result.warnings.length > 0) s.list(result.warnings);
  return s.toMarkdown();
}

/** The `images` output: what deploy steps consume. */
export function imagesOutput(result: BuildResult): object[] {
  return result.images.map((i) => ({
    target: i.target,
    image: i.image,
    digest: i.digest ?? null,
    ref: i.ref ?? null,
    tags: i.tags,
    platforms: i.platforms,
    pushed: i.pushed,
    sizeBytes: i.sizeBytes ?? null,
    durationMs: i.durationMs,
  }));
}
