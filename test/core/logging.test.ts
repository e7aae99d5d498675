import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActionsLogger, MemoryLogger, TerminalLogger } from '../../src/core/logging.js';
import { Masker } from '../../src/core/mask.js';
import { SummaryBuilder, writeJobSummary } from '../../src/core/summary.js';

function capture(): { write: (t: string) => void; text: () => string } {
  let buf = '';
  return { write: (t) => (buf += t), text: () => buf };
}

describe('ActionsLogger', () => {
  it('emits workflow commands: groups, masks, escaped annotations', async () => {
    const out = capture();
    const log = new ActionsLogger(out.write);
    log.mask('tok-123456');
    log.mask('tok-123456'); // registered once
    await log.group('Deploy api', async () => {
      log.info('using tok-123456');
      log.warning('50% done\nnext line', { title: 'a:b,c' });
    });
    log.error('failed');
    expect(out.text()).toBe(
      [
        '::add-mask::tok-123456',
        '::group::Deploy api',
        'using ***',
        '::warning title=a%3Ab%2Cc::50%25 done%0Anext line',
        '::endgroup::',
        '::error::failed',
        '',
      ].join('\n'),
    );
  });

  it('ends the group even when the phase throws', async () => {
    const out = capture();
    const log = new ActionsLogger(out.write);
    await expect(log.group('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(out.text()).toMatch(/::endgroup::\n$/);
  });

  it('masks each line of a multi-line secret', () => {
    const out = capture();
    const log = new ActionsLogger(out.write);
    log.mask('-----BEGIN KEY-----\nAAAAbbbbCCCCdddd\n-----END KEY-----');
    log.info('leaked AAAAbbbbCCCCdddd here');
    expect(out.text()).toContain('::add-mask::AAAAbbbbCCCCdddd');
    expect(out.text()).toContain('leaked *** here');
  });
});

describe('TerminalLogger', () => {
  it('prints timestamped, indented, masked lines; debug only when verbose', async () => {
    const out = capture();
    let t = 0;
    const log = new TerminalLogger(out.write, { now: () => t });
    log.mask('hunter22');
    t = 1500;
    await log.group('Smoke test', async () => {
      log.info('GET /health with hunter22');
      log.debug('hidden');
    });
    log.warning('slow');
    expect(out.text()).toBe(
      '[   1.5s] ▸ Smoke test\n[   1.5s]   GET /health with ***\n[   1.5s] warning: slow\n',
    );
    const verbose = capture();
    new TerminalLogger(verbose.write, { verbose: true }).debug('shown');
    expect(verbose.text()).toMatch(/debug: shown/);
  });

  it('writes JSON lines in json format', async () => {
    const out = capture();
    const log = new TerminalLogger(out.write, { format: 'json', now: () => 0 });
    await log.group('g', async () => log.info('hello'));
    const recs = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[1]).toEqual({ t: 0, level: 'info', msg: 'hello', group: 'g' });
  });

  it('throttles progress lines when not on a TTY', () => {
    const out = capture();
    let t = 0;
    const log = new TerminalLogger(out.write, { now: () => t });
    log.progress('waiting 1');
    t = 1000;
    log.progress('waiting 2');
    t = 7000;
    log.progress('waiting 3');
    expect(out.text().match(/waiting/g)).toHaveLength(2);
  });
});

describe('Masker', () => {
  it('ignores trivially short values and replaces longest secrets first', () => {
    const m = new Masker();
    m.add('ab');
    m.add('abc-secret');
    m.add('abc-secret-longer');
    expect(m.mask('ab abc-secret-longer abc-secret')).toBe('ab *** ***');
  });
});

describe('job summary', () => {
  it('builds markdown tables with escaped cells', () => {
    const md = new SummaryBuilder()
      .heading('Deploy')
      .table(
        ['name', 'note'],
        [
          ['api', 'a|b'],
          ['worker', 'x\ny'],
        ],
      )
      .toMarkdown();
    expect(md).toBe('## Deploy\n\n| name | note |\n| --- | --- |\n| api | a\\|b |\n| worker | x<br>y |\n');
  });

  it('is best-effort: no file → skipped, unwritable → warning, never throws', async () => {
    const log = new MemoryLogger();
    expect(await writeJobSummary('# hi', log, {})).toBe(false);
    expect(log.text()).toMatch(/GITHUB_STEP_SUMMARY unset/);
    expect(await writeJobSummary('# hi', log, { GITHUB_STEP_SUMMARY: '/nonexistent/dir/summary.md' })).toBe(
      false,
    );
    expect(log.records.some((r) => r.level === 'warning')).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'gantry-summary-'));
    const file = join(dir, 'summary.md');
    log.mask('secret-value');
    expect(await writeJobSummary('token secret-value', log, { GITHUB_STEP_SUMMARY: file })).toBe(true);
    expect(await readFile(file, 'utf8')).toBe('token ***\n');
  });
});
