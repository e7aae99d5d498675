import { ConfigurationError } from '../../core/errors.js';
import { Inputs, flagInputSource } from '../../core/inputs.js';
import { readSmokeOptions, renderReportText, reportSmokeResult, runSmokeTest } from '../../smoke/index.js';
import type { Command } from '../command.js';

/**
 * `gantry smoke`: the smoke-test action on the command line, with the same option names.
 * `gantry smoke https://api.example.com/api/health/` is the simple case; exit 0 healthy,
 * 1 unhealthy, 2 bad input, 3 nothing could be reached; `--json` prints the report.
 */
export const smokeCommand: Command = {
  name: 'smoke',
  summary: 'HTTP health checks that tell a healthy release from a broken one (= smoke-test)',
  usage: '[<url>]',
  options: [
    {
      name: 'url',
      type: 'string',
      placeholder: 'url',
      description: 'the URL to check (or give it as the argument)',
    },
    {
      name: 'checks',
      type: 'string',
      placeholder: 'file|yaml',
      description: 'a YAML/JSON list of checks, or a file holding it',
    },
    { name: 'method', type: 'string', placeholder: 'method', description: 'HTTP method (default GET)' },
    {
      name: 'headers',
      type: 'list',
      placeholder: 'Name: value',
      description: 'request header; values are masked, write secrets as ${ENV_VAR}',
    },
    { name: 'body', type: 'string', placeholder: 'text', description: 'request body' },
    {
      name: 'expect-status',
      type: 'string',
      placeholder: 'codes',
      description: 'accepted statuses, e.g. 200,204 or 2xx (default 200-299)',
    },
    {
      name: 'expect-body',
      type: 'string',
      placeholder: 'text|/re/',
      description: 'the body must contain this (or match /regex/)',
    },
    {
      name: 'expect-json',
      type: 'list',
      placeholder: 'path=value',
      description: 'a JSON body value, e.g. status=ok or checks.db=up',
    },
    {
      name: 'expect-header',
      type: 'list',
      placeholder: 'Name: value',
      description: 'a response header must contain this (or match /regex/)',
    },
    {
      name: 'max-latency',
      type: 'string',
      placeholder: 'duration',
      description: 'fail a request slower than this',
    },
    {
      name: 'resolve',
      type: 'list',
      placeholder: 'host:port:address',
      description: 'connect to address for host:port, keeping Host and SNI',
    },
    {
      name: 'ca-cert',
      type: 'string',
      placeholder: 'file',
      description: 'extra trusted CA certificate (PEM file)',
    },
    { name: 'insecure', type: 'boolean', description: 'do not verify TLS certificates (warned)' },
    { name: 'timeout', type: 'string', placeholder: 'duration', description: 'per request (default 10s)' },
    {
      name: 'interval',
      type: 'string',
      placeholder: 'duration',
      description: 'pause between attempts (default 2s)',
    },
    {
      name: 'deadline',
      type: 'string',
      placeholder: 'duration',
      description: 'for the whole step (default 2m)',
    },
    {
      name: 'consecutive-successes',
      type: 'string',
      placeholder: 'n',
      description: 'good attempts in a row to pass (default 2)',
    },
    {
      name: 'samples',
      type: 'string',
      placeholder: 'n',
      description: 'requests per attempt, for the latency percentiles (default 1)',
    },
    {
      name: 'latency-p50',
      type: 'string',
      placeholder: 'duration',
      description: "p50 limit over an attempt's samples",
    },
    {
      name: 'latency-p95',
      type: 'string',
      placeholder: 'duration',
      description: "p95 limit over an attempt's samples",
    },
    {
      name: 'latency-p99',
      type: 'string',
      placeholder: 'duration',
      description: "p99 limit over an attempt's samples",
    },
    {
      name: 'follow-redirects',
      type: 'boolean',
      description: 'follow 3xx redirects (default: a redirect is a status mismatch)',
    },
  ],
  details: [
    'Examples:',
    '  gantry smoke https://api.example.com/api/health/ --expect-json status=ok',
    '  gantry smoke --checks smoke.yml --resolve api.example.com:443:10.0.0.11 --json',
    "  API_TOKEN=… gantry smoke https://api/health --headers 'Authorization: Bearer ${API_TOKEN}'",
  ].join('\n'),
  async run(ctx) {
    if (ctx.positionals.length > 1) {
      throw new ConfigurationError(
        `gantry smoke takes at most one URL argument, got ${ctx.positionals.length}`,
        { input: 'url' },
      );
    }
    const [positional] = ctx.positionals;
    if (positional !== undefined && ctx.flags.url !== undefined) {
      throw new ConfigurationError('give the URL either as the argument or as --url, not both', {
        input: 'url',
      });
    }
    const inputs =
      positional === undefined ? ctx.inputs : new Inputs(flagInputSource({ ...ctx.flags, url: positional }));
    const options = await readSmokeOptions(inputs, ctx.io.env);
    const report = await runSmokeTest(options, {
      logger: ctx.logger,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    await reportSmokeResult(report, ctx.logger, ctx.io.env);
    ctx.result(report, renderReportText(report));
    return report.exitCode;
  },
};
