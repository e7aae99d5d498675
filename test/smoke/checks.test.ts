import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import {
  parseChecksDocument,
  parseJsonPath,
  parseResolveRule,
  parseSmokeChecks,
  parseStatusRanges,
  parseTextMatcher,
  type Origin,
} from '../../src/smoke/checks.js';

const at: Origin = { input: 'checks', label: 'checks[0] expect-status' };

function configError(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError);
    return e as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('parseStatusRanges', () => {
  it.each([
    [200, [{ min: 200, max: 200 }]],
    ['2xx', [{ min: 200, max: 299 }]],
    ['200-299', [{ min: 200, max: 299 }]],
    [
      '200, 204,300-399',
      [
        { min: 200, max: 200 },
        { min: 204, max: 204 },
        { min: 300, max: 399 },
      ],
    ],
    [
      [200, '3xx'],
      [
        { min: 200, max: 200 },
        { min: 300, max: 399 },
      ],
    ],
  ])('%j', (value, expected) => {
    expect(parseStatusRanges(value, at)).toEqual(expected);
  });

  it.each(['20', '600', '299-200', 'ok', '', '6xx'])('rejects %j naming the input', (value) => {
    const e = configError(() => parseStatusRanges(value, at));
    expect(e.input).toBe('checks');
    expect(e.message).toMatch(/^checks\[0\] expect-status /);
  });
});

describe('parseTextMatcher', () => {
  it('reads a substring, or a /regex/ with flags', () => {
    expect(parseTextMatcher('ok', at)).toEqual({ kind: 'substring', text: 'ok' });
    expect(parseTextMatcher('/^ok$/i', at)).toEqual({ kind: 'regex', source: '^ok$', flags: 'i' });
    expect(parseTextMatcher('/a/b', at)).toEqual({ kind: 'substring', text: '/a/b' });
  });
  it('rejects an invalid regex up front (exit 2, not a failed check)', () => {
    expect(configError(() => parseTextMatcher('/(/', at)).message).toContain('invalid regular expression');
  });
});

describe('parseJsonPath', () => {
  it.each([
    ['status', ['status']],
    ['checks.db', ['checks', 'db']],
    ['items[0].name', ['items', 0, 'name']],
    ['items.1', ['items', 1]],
    ['m[1][2]', ['m', 1, 2]],
  ])('%s', (path, segments) => {
    expect(parseJsonPath(path, at)).toEqual(segments);
  });
  it.each(['a..b', 'a[x]', '.a'])('rejects %s', (path) => {
    configError(() => parseJsonPath(path, at));
  });
});

describe('parseResolveRule', () => {
  it.each([
    ['api.example.com:443:10.0.0.11', { host: 'api.example.com', port: 443, address: '10.0.0.11' }],
    [
      'API.example.com:80:127.0.0.2:8080',
      { host: 'api.example.com', port: 80, address: '127.0.0.2', targetPort: 8080 },
    ],
    ['api:443:[::1]', { host: 'api', port: 443, address: '::1' }],
    ['api:443:[::1]:8443', { host: 'api', port: 443, address: '::1', targetPort: 8443 }],
  ])('%s', (text, rule) => {
    expect(parseResolveRule(text, at)).toEqual(rule);
  });
  it.each(['api:443', 'api:443:node1', 'api:99999:10.0.0.1', 'api:x:10.0.0.1'])('rejects %s', (text) => {
    expect(configError(() => parseResolveRule(text, at)).message).toContain('host:port:address');
  });
});

describe('parseChecksDocument', () => {
  it('reads a YAML list with every key, filling defaults', () => {
    const [c] = parseChecksDocument(
      [
        '- name: api',
        '  url: https://api.example.com/api/health/',
        '  method: post',
        '  headers: {Authorization: Bearer x}',
        '  body: {probe: true}',
        '  expect-status: [200, 204]',
        '  expect-body: /ok/',
        '  expect-json: {status: ok, checks.db: up, count: 3}',
        '  expect-header: {Content-Type: application/json}',
        '  max-latency: 500ms',
        '  timeout: 5',
        '  interval: 1s',
        '  consecutive-successes: 3',
        '  samples: 10',
        '  latency-p95: 300ms',
        '  follow-redirects: true',
        '  insecure: false',
        '  resolve: [api.example.com:443:10.0.0.11]',
      ].join('\n'),
    );
    expect(c).toEqual({
      name: 'api',
      url: 'https://api.example.com/api/health/',
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer x' },
      body: '{"probe":true}',
      expectStatus: [
        { min: 200, max: 200 },
        { min: 204, max: 204 },
      ],
      expectBody: { kind: 'regex', source: 'ok', flags: '' },
      expectJson: [
        { path: 'status', segments: ['status'], expected: 'ok' },
        { path: 'checks.db', segments: ['checks', 'db'], expected: 'up' },
        { path: 'count', segments: ['count'], expected: 3 },
      ],
      expectHeader: [{ name: 'content-type', matcher: { kind: 'substring', text: 'application/json' } }],
      maxLatencyMs: 500,
      timeoutMs: 5000,
      intervalMs: 1000,
      consecutiveSuccesses: 3,
      samples: 10,
      latency: { p95: 300 },
      followRedirects: true,
      insecure: false,
      resolve: [{ host: 'api.example.com', port: 443, address: '10.0.0.11' }],
    });
  });

  it('reads JSON, a {checks: [...]} map, and bare URL strings; default names from the URL', () => {
    const checks = parseChecksDocument(
      '{"checks": ["http://a.test/health", {"url": "http://b.test:8080/x?y=1"}]}',
    );
    expect(
      checks.map((c) => [c.name, c.method, c.timeoutMs, c.intervalMs, c.consecutiveSuccesses, c.samples]),
    ).toEqual([
      ['a.test/health', 'GET', 10_000, 2_000, 2, 1],
      ['b.test:8080/x?y=1', 'GET', 10_000, 2_000, 2, 1],
    ]);
    expect(checks[0]?.expectStatus).toEqual([{ min: 200, max: 299 }]);
  });

  it('inherits step-wide defaults; a check overrides them, headers merge by name', () => {
    const [a, b] = parseSmokeChecks(
      [
        { name: 'a', url: 'http://a.test/' },
        { name: 'b', url: 'http://b.test/', timeout: '1s', headers: { 'X-Two': '2' } },
      ],
      {
        defaults: {
          timeoutMs: 3000,
          headers: { 'X-One': '1' },
          resolve: [{ host: 'a.test', port: 80, address: '127.0.0.1' }],
        },
      },
    );
    expect(a).toMatchObject({ timeoutMs: 3000, headers: { 'X-One': '1' } });
    expect(b).toMatchObject({ timeoutMs: 1000, headers: { 'X-One': '1', 'X-Two': '2' } });
    expect(b?.resolve).toHaveLength(1);
  });

  it('expands ${NAME} in header values from the environment and remembers the values as secrets', () => {
    const [c] = parseSmokeChecks([{ url: 'http://a.test/', headers: { Authorization: 'Bearer ${TOKEN}' } }], {
      env: { TOKEN: 'abc123' },
    });
    expect(c?.headers.Authorization).toBe('Bearer abc123');
    expect(c?.secrets).toEqual(['abc123']);
    expect(
      configError(() =>
        parseSmokeChecks([{ url: 'http://a.test/', headers: { A: '${MISSING}' } }], { env: {} }),
      ).message,
    ).toContain('refers to ${MISSING}, which is not set');
  });

  it.each([
    ['[{url: ', /input "checks" is not valid YAML or JSON/],
    ['smoke.yml', /input "checks" is "smoke\.yml", neither an existing file nor a YAML\/JSON list of checks/],
    ['[]', /has no checks/],
    ['- {name: a}', /checks\[0\] \("a"\) has no url/],
    ['- {url: "ftp://x/"}', /checks\[0\] url uses ftp:/],
    ['- {url: "not a url"}', /checks\[0\] url is "not a url", not a valid URL/],
    [
      '- {url: "http://a/", expect_status: 200}',
      /unknown key "expect_status"; did you mean "expect-status"\?/,
    ],
    ['- {url: "http://a/", timeout: soon}', /checks\[0\] timeout is "soon", not a duration/],
    ['- {url: "http://a/", samples: 0}', /checks\[0\] samples is 0; give a whole number from 1 to 1000/],
    ['- {url: "http://a/", insecure: yes}', /checks\[0\] insecure is "yes", not a boolean/],
    ['- {url: "http://a/", body: x}', /sends a body with GET/],
    ['- {url: "http://a/"}\n- {url: "http://a/"}', /two checks named "a\/"/],
    ['- {url: "http://a/", expect-json: [status]}', /expect-json is \["status"\], not a map/],
  ])('rejects %j (exit 2)', (text, message) => {
    const e = configError(() => parseChecksDocument(text));
    expect(e.message).toMatch(message);
    expect(e.input).toBe('checks');
    expect(e.exitCode).toBe(2);
  });
});
