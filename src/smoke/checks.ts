/**
 * Smoke checks: what one HTTP health check asks for, and how a definition is read — from the
 * `checks` YAML/JSON document, from the `url` + `expect-*` inputs, or from a caller's config
 * (gantry.yml health checks) through `parseSmokeChecks`. Everything is validated here, before a
 * single request is sent, so a bad definition is a ConfigurationError (exit 2) naming the check
 * and the key.
 *
 * Keys are the action's input names (kebab-case); a check's own key overrides the step-wide
 * default, except `headers`, which merge by header name.
 */
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../core/durations.js';
import { ConfigurationError, errorMessage } from '../core/errors.js';

/** An inclusive range of acceptable HTTP status codes (`200` is {200, 200}, `2xx` is {200, 299}). */
export interface StatusRange {
  min: number;
  max: number;
}

/** A substring, or a regular expression written `/source/flags`; kept as data so checks serialize. */
export type TextMatcher =
  { kind: 'substring'; text: string } | { kind: 'regex'; source: string; flags: string };

/** One `expect-json` entry: a dotted path (`checks.db`, `items[0].name`) and the value it must have. */
export interface JsonExpectation {
  path: string;
  segments: (string | number)[];
  /** A string also matches numbers/booleans/null by their JSON spelling; `/re/` strings are regexes. */
  expected: unknown;
}

export interface HeaderExpectation {
  /** Lower-cased header name. */
  name: string;
  matcher: TextMatcher;
}

/**
 * A curl-style `--resolve host:port:address` override: connections for host:port go to address
 * (and to targetPort when given as a fourth field) while the Host header and TLS SNI stay `host`.
 */
export interface ResolveRule {
  host: string;
  port: number;
  address: string;
  targetPort?: number;
}

export interface LatencyThresholds {
  p50?: number;
  p95?: number;
  p99?: number;
}

/** A fully resolved check: every default filled in, every value validated. Times in ms. */
export interface SmokeCheck {
  name: string;
  url: string;
  method: string;
  /** Values are secrets: masked in every log line and never put in the report. */
  headers: Record<string, string>;
  /** Further values to mask: what `${NAME}` references in header values expanded to. */
  secrets?: string[];
  body?: string;
  expectStatus: StatusRange[];
  expectBody?: TextMatcher;
  expectJson: JsonExpectation[];
  expectHeader: HeaderExpectation[];
  /** Per request, total time including the body. */
  maxLatencyMs?: number;
  timeoutMs: number;
  intervalMs: number;
  consecutiveSuccesses: number;
  /** Requests per attempt (a burst, sent back to back); the percentile thresholds apply to it. */
  samples: number;
  latency: LatencyThresholds;
  followRedirects: boolean;
  insecure: boolean;
  resolve: ResolveRule[];
}

/** Everything a check may set, as typed values; used for step-wide defaults and per-check keys. */
export type CheckSettings = Partial<Omit<SmokeCheck, 'latency'>> & { latency?: LatencyThresholds };

export const CHECK_DEFAULTS = {
  method: 'GET',
  expectStatus: [{ min: 200, max: 299 }],
  timeoutMs: 10_000,
  intervalMs: 2_000,
  consecutiveSuccesses: 2,
  samples: 1,
  followRedirects: false,
  insecure: false,
} as const satisfies CheckSettings;

/** Default step deadline: long enough for an ingress to pick up new endpoints, short enough to roll back. */
export const DEFAULT_DEADLINE_MS = 120_000;

/** The keys a check in the `checks` document may have. */
const CHECK_KEYS = [
  'name',
  'url',
  'method',
  'headers',
  'body',
  'expect-status',
  'expect-body',
  'expect-json',
  'expect-header',
  'max-latency',
  'timeout',
  'interval',
  'consecutive-successes',
  'samples',
  'latency-p50',
  'latency-p95',
  'latency-p99',
  'follow-redirects',
  'insecure',
  'resolve',
] as const;

/** Where a value came from, for messages: `input "expect-status"` or `checks[1] ("api") expect-status`. */
export interface Origin {
  /** The input the user set (e.g. "checks"), recorded on the ConfigurationError. */
  input: string;
  /** How to refer to the value in a message. */
  label: string;
}

function fail(origin: Origin, problem: string, fix: string): never {
  throw new ConfigurationError(`${origin.label} ${problem}; ${fix}`, { input: origin.input });
}

function show(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : (JSON.stringify(value) ?? String(value));
}

// ---------------------------------------------------------------------------------------------
// Single values

/** `200`, `2xx`, `200-299`, `200,204,300-399`, or a YAML list of those. */
export function parseStatusRanges(value: unknown, origin: Origin): StatusRange[] {
  const items: unknown[] = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(/[\s,]+/)
      : [value];
  const ranges: StatusRange[] = [];
  for (const item of items) {
    if (item === '') continue;
    const text = String(item).trim();
    let m: RegExpExecArray | null;
    let range: StatusRange | undefined;
    if ((m = /^([1-5])xx$/i.exec(text))) range = { min: Number(m[1]) * 100, max: Number(m[1]) * 100 + 99 };
    else if ((m = /^(\d{3})\s*-\s*(\d{3})$/.exec(text))) range = { min: Number(m[1]), max: Number(m[2]) };
    else if (/^\d{3}$/.test(text)) range = { min: Number(text), max: Number(text) };
    if (!range || range.min < 100 || range.max > 599 || range.min > range.max) {
      fail(
        origin,
        `has ${show(item)}, not a status code or range`,
        'write codes and ranges like 200, 204, 2xx or 200-299',
      );
    }
    ranges.push(range);
  }
  if (ranges.length === 0) fail(origin, 'is empty', 'give at least one status code, e.g. 200-299');
  return ranges;
}

/** `/regex/flags` or a plain substring. An invalid regex is a configuration error, not a failed check. */
export function parseTextMatcher(value: unknown, origin: Origin): TextMatcher {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    fail(origin, `is ${show(value)}`, 'give a substring or a /regular expression/');
  }
  const text = String(value);
  const m = /^\/(.+)\/([dgimsuyv]*)$/s.exec(text);
  if (!m) return { kind: 'substring', text };
  const [, source = '', flags = ''] = m;
  try {
    new RegExp(source, flags);
  } catch (e) {
    fail(origin, `has an invalid regular expression ${text} (${errorMessage(e)})`, 'fix the pattern');
  }
  return { kind: 'regex', source, flags: flags.replace(/[gy]/g, '') };
}

/** Splits `checks.db`, `items[0].name` or `items.0.name` into segments. */
export function parseJsonPath(path: string, origin: Origin): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m || (m[1] === '' && m[2] === '')) {
      fail(origin, `has the JSON path "${path}"`, 'write paths like status, checks.db or items[0].name');
    }
    if (m[1] !== '') segments.push(/^\d+$/.test(m[1] ?? '') ? Number(m[1]) : (m[1] ?? ''));
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
  }
  return segments;
}

export function parseJsonExpectations(value: unknown, origin: Origin): JsonExpectation[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(
      origin,
      `is ${show(value)}, not a map of JSON path to value`,
      'write it like {status: ok, checks.db: up}',
    );
  }
  return Object.entries(value as Record<string, unknown>).map(([path, expected]) => {
    if (typeof expected === 'string') parseTextMatcher(expected, origin); // validates /regex/ values
    return { path, segments: parseJsonPath(path, origin), expected };
  });
}

export function parseHeaderExpectations(value: unknown, origin: Origin): HeaderExpectation[] {
  const map = asStringMap(value, origin, 'a map of header name to expected value');
  return Object.entries(map).map(([name, expected]) => ({
    name: validHeaderName(name, origin).toLowerCase(),
    matcher: parseTextMatcher(expected, origin),
  }));
}

function validHeaderName(name: string, origin: Origin): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    fail(origin, `has the header name "${name}"`, 'use a valid HTTP header name like Authorization');
  }
  return name;
}

function asStringMap(value: unknown, origin: Origin, what: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(origin, `is ${show(value)}, not ${what}`, 'write it as a YAML map');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object')
      fail(origin, `has a nested value under "${k}"`, 'give a plain value');
    out[k] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

/**
 * `Name: value` lines (curl's -H); the form of the `headers` and `expect-header` inputs. Only
 * newlines separate entries, since header values often contain commas.
 */
export function parseHeaderLines(text: string, origin: Origin): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0)
      fail(
        origin,
        `has "${line.length > 40 ? line.slice(0, 40) + '…' : line}", not Name: value`,
        'write one "Name: value" per line',
      );
    out[validHeaderName(line.slice(0, colon).trim(), origin)] = line.slice(colon + 1).trim();
  }
  return out;
}

/** `host:port:address[:port]`; IPv6 addresses in brackets (`api:443:[::1]`). */
export function parseResolveRule(text: string, origin: Origin): ResolveRule {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+):(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text.trim());
  const unbracket = (s: string): string => s.replace(/^\[(.*)\]$/, '$1');
  const port = Number(m?.[2]);
  const targetPort = m?.[4] === undefined ? undefined : Number(m[4]);
  const address = unbracket(m?.[3] ?? '');
  if (
    !m ||
    port < 1 ||
    port > 65535 ||
    (targetPort !== undefined && (targetPort < 1 || targetPort > 65535)) ||
    !isIP(address)
  ) {
    fail(
      origin,
      `has "${text}"`,
      'write host:port:address (an IP address), e.g. api.example.com:443:10.0.0.11',
    );
  }
  return {
    host: unbracket(m[1] ?? '').toLowerCase(),
    port,
    address,
    ...(targetPort === undefined ? {} : { targetPort }),
  };
}

function parseDurationValue(value: unknown, origin: Origin): number {
  if (typeof value === 'number' && value >= 0) return Math.round(value * 1000);
  if (typeof value !== 'string')
    fail(origin, `is ${show(value)}, not a duration`, 'write it like 500ms, 10s or 2m');
  try {
    return parseDuration(value, origin.label);
  } catch {
    return fail(origin, `is ${show(value)}, not a duration`, 'write it like 500ms, 10s or 2m');
  }
}

function parseBooleanValue(value: unknown, origin: Origin): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'True' || value === 'TRUE') return true;
  if (value === 'false' || value === 'False' || value === 'FALSE') return false;
  return fail(origin, `is ${show(value)}, not a boolean`, 'use true or false');
}

function parseCount(value: unknown, origin: Origin, min: number, max: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(origin, `is ${show(value)}`, `give a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Validates a check URL: absolute http(s), no fragment games. */
export function parseCheckUrl(value: unknown, origin: Origin): string {
  if (typeof value !== 'string' || value.trim() === '')
    fail(origin, `is ${show(value)}`, 'give an http:// or https:// URL');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return fail(
      origin,
      `is "${value}", not a valid URL`,
      'give an absolute URL like https://api.example.com/api/health/',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(origin, `uses ${url.protocol}`, 'only http:// and https:// URLs can be checked');
  }
  if (url.hostname === '') fail(origin, `is "${value}" without a host`, 'give an absolute URL');
  return url.href;
}

/**
 * Expands `${NAME}` in a header value from the environment, so a secret need not be written on
 * the command line (`--headers 'Authorization: Bearer ${API_TOKEN}'`) or in a checked-in file.
 */
export function expandEnvReferences(
  value: string,
  env: NodeJS.ProcessEnv,
  origin: Origin,
  expanded: string[] = [],
): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined)
      fail(origin, `refers to \${${name}}, which is not set`, `set the environment variable ${name}`);
    expanded.push(v);
    return v;
  });
}

// ---------------------------------------------------------------------------------------------
// Checks

/** Reads the kebab-case keys of one raw check (a YAML map) into typed settings. */
export function parseCheckEntry(raw: Record<string, unknown>, origin: Origin): CheckSettings {
  const at = (key: string): Origin => ({ input: origin.input, label: `${origin.label} ${key}` });
  for (const key of Object.keys(raw)) {
    if (!(CHECK_KEYS as readonly string[]).includes(key)) {
      const near = CHECK_KEYS.find((k) => k.replace(/-/g, '') === key.toLowerCase().replace(/[-_]/g, ''));
      fail(
        origin,
        `has the unknown key "${key}"`,
        near ? `did you mean "${near}"?` : `known keys: ${CHECK_KEYS.join(', ')}`,
      );
    }
  }
  const s: CheckSettings = {};
  const v = (key: (typeof CHECK_KEYS)[number]): unknown => raw[key];
  const has = (key: (typeof CHECK_KEYS)[number]): boolean => raw[key] !== undefined && raw[key] !== null;
  if (has('name')) s.name = String(v('name'));
  if (has('url')) s.url = parseCheckUrl(v('url'), at('url'));
  if (has('method')) {
    const method = String(v('method')).toUpperCase();
    if (!/^[A-Z]+$/.test(method)) fail(at('method'), `is ${show(v('method'))}`, 'use GET, HEAD, POST …');
    s.method = method;
  }
  if (has('headers')) {
    const h = v('headers');
    s.headers =
      typeof h === 'string'
        ? parseHeaderLines(h, at('headers'))
        : asStringMap(h, at('headers'), 'a map of header name to value');
    for (const name of Object.keys(s.headers)) validHeaderName(name, at('headers'));
  }
  if (has('body')) {
    const b = v('body');
    s.body = typeof b === 'string' ? b : JSON.stringify(b);
    if (typeof b !== 'string') s.headers = { 'Content-Type': 'application/json', ...s.headers };
  }
  if (has('expect-status')) s.expectStatus = parseStatusRanges(v('expect-status'), at('expect-status'));
  if (has('expect-body')) s.expectBody = parseTextMatcher(v('expect-body'), at('expect-body'));
  if (has('expect-json')) s.expectJson = parseJsonExpectations(v('expect-json'), at('expect-json'));
  if (has('expect-header')) {
    const h = v('expect-header');
    s.expectHeader = parseHeaderExpectations(
      typeof h === 'string' ? parseHeaderLines(h, at('expect-header')) : h,
      at('expect-header'),
    );
  }
  if (has('max-latency')) s.maxLatencyMs = parseDurationValue(v('max-latency'), at('max-latency'));
  if (has('timeout')) s.timeoutMs = parseDurationValue(v('timeout'), at('timeout'));
  if (has('interval')) s.intervalMs = parseDurationValue(v('interval'), at('interval'));
  if (has('consecutive-successes'))
    s.consecutiveSuccesses = parseCount(v('consecutive-successes'), at('consecutive-successes'), 1, 100);
  if (has('samples')) s.samples = parseCount(v('samples'), at('samples'), 1, 1000);
  for (const p of ['p50', 'p95', 'p99'] as const) {
    const key = `latency-${p}` as const;
    if (has(key)) s.latency = { ...s.latency, [p]: parseDurationValue(v(key), at(key)) };
  }
  if (has('follow-redirects'))
    s.followRedirects = parseBooleanValue(v('follow-redirects'), at('follow-redirects'));
  if (has('insecure')) s.insecure = parseBooleanValue(v('insecure'), at('insecure'));
  if (has('resolve')) {
    const r = v('resolve');
    const items = Array.isArray(r)
      ? r
      : String(r)
          .split(/[\s,]+/)
          .filter(Boolean);
    s.resolve = items.map((item) => parseResolveRule(String(item), at('resolve')));
  }
  return s;
}

export interface ResolveCheckOptions {
  /** Step-wide settings (from the inputs) that each check inherits. */
  defaults?: CheckSettings;
  /** For `${NAME}` in header values. */
  env?: NodeJS.ProcessEnv;
}

/** Fills defaults into settings and validates the whole: the one place a SmokeCheck is made. */
export function resolveCheck(
  settings: CheckSettings,
  origin: Origin,
  options: ResolveCheckOptions = {},
): SmokeCheck {
  const d = options.defaults ?? {};
  const url = settings.url ?? d.url;
  if (url === undefined) fail(origin, 'has no url', 'give each check a url');
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries({ ...d.headers, ...settings.headers })) {
    const label = `${origin.label} header ${name}`;
    headers[name] = expandEnvReferences(value, options.env ?? {}, { input: origin.input, label }, secrets);
  }
  const check: SmokeCheck = {
    name: settings.name ?? d.name ?? defaultCheckName(url),
    url,
    method: settings.method ?? d.method ?? CHECK_DEFAULTS.method,
    headers,
    expectStatus: settings.expectStatus ?? d.expectStatus ?? [...CHECK_DEFAULTS.expectStatus],
    expectJson: settings.expectJson ?? d.expectJson ?? [],
    expectHeader: settings.expectHeader ?? d.expectHeader ?? [],
    timeoutMs: settings.timeoutMs ?? d.timeoutMs ?? CHECK_DEFAULTS.timeoutMs,
    intervalMs: settings.intervalMs ?? d.intervalMs ?? CHECK_DEFAULTS.intervalMs,
    consecutiveSuccesses:
      settings.consecutiveSuccesses ?? d.consecutiveSuccesses ?? CHECK_DEFAULTS.consecutiveSuccesses,
    samples: settings.samples ?? d.samples ?? CHECK_DEFAULTS.samples,
    latency: { ...d.latency, ...settings.latency },
    followRedirects: settings.followRedirects ?? d.followRedirects ?? CHECK_DEFAULTS.followRedirects,
    insecure: settings.insecure ?? d.insecure ?? CHECK_DEFAULTS.insecure,
    resolve: [...(settings.resolve ?? []), ...(d.resolve ?? [])],
  };
  if (secrets.length > 0) check.secrets = secrets;
  const body = settings.body ?? d.body;
  if (body !== undefined) check.body = body;
  const expectBody = settings.expectBody ?? d.expectBody;
  if (expectBody) check.expectBody = expectBody;
  const maxLatency = settings.maxLatencyMs ?? d.maxLatencyMs;
  if (maxLatency !== undefined) check.maxLatencyMs = maxLatency;
  if (check.timeoutMs <= 0) fail(origin, 'has a zero timeout', 'give a timeout like 10s');
  if (check.method === 'GET' || check.method === 'HEAD') {
    if (check.body !== undefined)
      fail(origin, `sends a body with ${check.method}`, 'use POST/PUT or drop the body');
  }
  return check;
}

/** `api.example.com/api/health/` for `https://api.example.com/api/health/`. */
export function defaultCheckName(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}${u.search}`;
}

/**
 * Parses the `checks` document: a YAML/JSON list of checks, or a map with a `checks:` list.
 * `text` may instead be the path of a file holding the document (read by the caller; see
 * `readChecksInput`). Throws ConfigurationError (input "checks") on anything unparsable.
 */
export function parseChecksDocument(
  text: string,
  options: ResolveCheckOptions & { input?: string } = {},
): SmokeCheck[] {
  const input = options.input ?? 'checks';
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    fail(
      { input, label: `input "${input}"` },
      `is not valid YAML or JSON (${errorMessage(e).split('\n')[0]})`,
      'fix the document',
    );
  }
  return parseSmokeChecks(doc, { ...options, input });
}

/**
 * Turns already-parsed check definitions (a list of kebab-case maps, as in the `checks` input or a
 * gantry.yml `health-checks:` section) into validated SmokeChecks. Names must be unique.
 */
export function parseSmokeChecks(
  doc: unknown,
  options: ResolveCheckOptions & { input?: string } = {},
): SmokeCheck[] {
  const input = options.input ?? 'checks';
  const top: Origin = { input, label: `input "${input}"` };
  const list =
    doc !== null && typeof doc === 'object' && !Array.isArray(doc) && 'checks' in doc
      ? (doc as { checks: unknown }).checks
      : doc;
  if (!Array.isArray(list)) {
    fail(
      top,
      `is ${typeof list === 'string' ? `"${list.length > 60 ? list.slice(0, 60) + '…' : list}"` : 'not a list'}, neither an existing file nor a YAML/JSON list of checks`,
      'give a list like [{name: api, url: https://api.example.com/health}] or a file path',
    );
  }
  if (list.length === 0) fail(top, 'has no checks', 'give at least one check');
  const checks = list.map((raw, i) => {
    const named =
      raw !== null && typeof raw === 'object' && 'name' in raw
        ? ` ("${String((raw as { name: unknown }).name)}")`
        : '';
    const origin: Origin = { input, label: `${input}[${i}]${named}` };
    if (typeof raw === 'string') return resolveCheck({ url: parseCheckUrl(raw, origin) }, origin, options);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      fail(origin, 'is not a map', 'give each check as a map with at least a url');
    return resolveCheck(parseCheckEntry(raw as Record<string, unknown>, origin), origin, options);
  });
  return uniqueNames(checks, top);
}

export function uniqueNames(checks: SmokeCheck[], origin: Origin): SmokeCheck[] {
  const seen = new Set<string>();
  for (const c of checks) {
    if (seen.has(c.name)) fail(origin, `has two checks named "${c.name}"`, 'give each check a distinct name');
    seen.add(c.name);
  }
  return checks;
}
