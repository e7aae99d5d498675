/**
 * The demo's HTML report: one self-contained page (no scripts, no external assets) with the steps,
 * their outcome and a timeline of when each ran. Pure: DemoResult in, HTML out.
 */
import type { DemoResult } from './run-demo.js';

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function renderDemoReport(result: DemoResult): string {
  const total = Math.max(result.durationMs, 1);
  const rows = result.steps
    .map((s) => {
      const left = (s.startMs / total) * 100;
      const width = Math.max((s.durationMs / total) * 100, 0.4);
      const cls = !s.ok ? 'bad' : s.expectedExit !== 0 ? 'caught' : 'good';
      const outcome = !s.ok
        ? `unexpected exit ${s.exitCode}`
        : s.expectedExit !== 0
          ? `failed as it should (exit ${s.exitCode})`
          : 'ok';
      return `<tr class="${cls}">
  <td class="title">${esc(s.title)}</td>
  <td class="num">${seconds(s.startMs)}</td>
  <td class="num">${seconds(s.durationMs)}</td>
  <td>${esc(outcome)}</td>
  <td class="bar"><div class="track"><div class="span ${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div></div></td>
</tr>
<tr class="note"><td colspan="5">${esc(s.note)}</td></tr>`;
    })
    .join('\n');
  const verdict = result.ok
    ? 'Every step ended as expected: the broken releases were caught and the app is healthy again.'
    : 'The demo stopped at a step that did not end as expected (see the last row).';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gantry demo — ${esc(result.startedAt)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .meta { color: #5b6473; margin-bottom: 1rem; }
  .verdict { padding: .6rem .8rem; border-radius: 6px; margin: 1rem 0; }
  .verdict.ok { background: #e7f6ec; } .verdict.notok { background: #fdecec; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .5rem; vertical-align: top; }
  th { border-bottom: 2px solid #d5d9e0; font-weight: 600; }
  tr.note td { color: #5b6473; font-size: .9em; padding-top: 0; border-bottom: 1px solid #eceef2; word-break: break-all; }
  td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  td.title { font-weight: 600; }
  td.bar { width: 35%; }
  .track { position: relative; height: 14px; background: #f2f4f7; border-radius: 3px; }
  .span { position: absolute; top: 0; height: 14px; border-radius: 3px; }
  .span.good { background: #3a9d5d; } .span.caught { background: #e0a030; } .span.bad { background: #d64545; }
  tr.bad td.title { color: #b42323; }
</style>
</head>
<body>
<h1>gantry demo</h1>
<div class="meta">started ${esc(result.startedAt)} · ${seconds(result.durationMs)} in all · registry ${esc(
    result.registry ?? '-',
  )} · cluster ${esc(result.server ?? '-')}</div>
<div class="verdict ${result.ok ? 'ok' : 'notok'}">${esc(verdict)}</div>
<table>
<thead><tr><th>step</th><th>at</th><th>took</th><th>outcome</th><th>timeline</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="meta">Green: succeeded. Amber: a broken release that failed the way it should (caught and rolled back). Red: unexpected.</p>
</body>
</html>
`;
}
