/**
 * Job summaries (Markdown appended to $GITHUB_STEP_SUMMARY). Best-effort by contract: a summary
 * that cannot be written is a debug line, never a failed job — Gitea renders summaries only from
 * 1.27 and older runners don't set the variable at all.
 */
import { appendFile } from 'node:fs/promises';
import type { Logger } from './logging.js';

export type Cell = string | number | boolean | null | undefined;

/** Builds Markdown; pure, so its output can be tested and also printed by the CLI. */
export class SummaryBuilder {
  private readonly parts: string[] = [];

  heading(text: string, level: 1 | 2 | 3 = 2): this {
    this.parts.push(`${'#'.repeat(level)} ${text}\n`);
    return this;
  }
  paragraph(text: string): this {
    this.parts.push(`${text}\n`);
    return this;
  }
  list(items: string[]): this {
    this.parts.push(items.map((i) => `- ${i}`).join('\n') + '\n');
    return this;
  }
  code(text: string, lang = ''): this {
    this.parts.push('```' + lang + '\n' + text.replace(/\n$/, '') + '\n```\n');
    return this;
  }
  table(header: string[], rows: Cell[][]): this {
    const esc = (c: Cell): string =>
      String(c ?? '')
        .replace(/\|/g, '\\|')
        .replace(/\r?\n/g, '<br>');
    const lines = [
      `| ${header.map(esc).join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    ];
    this.parts.push(lines.join('\n') + '\n');
    return this;
  }
  toMarkdown(): string {
    return this.parts.join('\n');
  }
}

/** Appends to the job summary when the runner offers one; never throws. Returns whether it wrote. */
export async function writeJobSummary(
  markdown: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file) {
    logger.debug('no job summary file (GITHUB_STEP_SUMMARY unset, e.g. Gitea < 1.27): summary skipped');
    return false;
  }
  try {
    await appendFile(file, logger.masker.mask(markdown) + '\n');
    return true;
  } catch (e) {
    logger.warning(`could not write the job summary (${(e as Error).message}); the step goes on`);
    return false;
  }
}
