/**
 * Every row of distribution/reference's test tables (../shared/conformance/distribution-reference),
 * plus the golden outputs of the real Go parsers, reproduced by src/oci/reference.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ANCHORED_IDENTIFIER_REGEXP,
  ANCHORED_NAME_REGEXP,
  DOMAIN_REGEXP,
  REFERENCE_REGEXP,
  ReferenceError,
  familiarMatch,
  familiarName,
  familiarString,
  formatReference,
  isNamed,
  parseAnyReference,
  parseCanonical,
  parseDockerRef,
  parseExact,
  parseNormalized,
  parseReference,
  referenceName,
  withDigest,
  withName,
  withTag,
  type DigestReference,
  type ImageReference,
} from '../../src/oci/reference.js';

const conformanceDir = fileURLToPath(
  new URL('../../../shared/conformance/distribution-reference/', import.meta.url),
);

interface GoError {
  error_var?: string;
  error_message: string;
}
interface Table<R> {
  rows: R[];
}
function load<R>(file: string): R[] {
  return (JSON.parse(readFileSync(conformanceDir + file, 'utf8')) as Table<R>).rows;
}

function expectGoError(fn: () => unknown, err: GoError): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ReferenceError);
  const re = thrown as ReferenceError;
  expect(re.code).toBe('input');
  expect(re.detail).toBe(err.error_message);
  if (err.error_var) expect(re.reason).toBe(err.error_var);
}

function nameOf(r: ImageReference | DigestReference): string {
  return isNamed(r) ? referenceName(r) : '';
}

/** One checker per table file; a table in index.json without a checker fails the suite. */
const checkers: Record<string, (row: never) => void> = {
  'tables/TestDomainAndPath__tests.json': (row: { input: string; domain: string; path: string }) => {
    const n = withName(row.input);
    expect(n.domain).toBe(row.domain);
    expect(n.path).toBe(row.path);
  },
  'tables/TestDomainRegexp__tests.json': (row: { input: string; match: boolean }) => {
    expect(DOMAIN_REGEXP.test(row.input)).toBe(row.match);
  },
  'tables/TestFullNameRegexp__tests.json': (row: { input: string; match: boolean; subs: string[] }) => {
    const m = ANCHORED_NAME_REGEXP.exec(row.input);
    expect(m !== null).toBe(row.match);
    if (m && row.subs.length) expect([m[1] ?? '', m[2] ?? '']).toEqual(row.subs);
  },
  'tables/TestIdentifierRegexp__tests.json': (row: { input: string; match: boolean }) => {
    expect(ANCHORED_IDENTIFIER_REGEXP.test(row.input)).toBe(row.match);
  },
  'tables/TestMatch__tests.json': (row: { pattern: string; reference: string; expected: boolean }) => {
    expect(familiarMatch(row.pattern, parseAnyReference(row.reference))).toBe(row.expected);
  },
  'tables/TestNormalizedSplitHostname__tests.json': (row: {
    input: string;
    domain: string;
    path: string;
  }) => {
    const n = parseNormalized(row.input);
    expect(n.domain).toBe(row.domain);
    expect(n.path).toBe(row.path);
  },
  'tables/TestParseAnyReference__tests.json': (row: {
    Reference: string;
    Equivalent: string;
    Expected: { digest: string; string: string } | null;
  }) => {
    const r = parseAnyReference(row.Reference);
    expect(formatReference(r)).toBe(row.Equivalent);
    if (row.Expected) {
      expect(isNamed(r)).toBe(false);
      expect(r.digest).toBe(row.Expected.digest);
      expect(formatReference(r)).toBe(row.Expected.string);
    } else {
      expect(r).toEqual(parseExact(row.Equivalent));
    }
  },
  'tables/TestParseDockerRef__tests.json': (row: { input: string; expected: string }) => {
    expect(formatReference(parseDockerRef(row.input))).toBe(row.expected);
  },
  'tables/TestParseNamed__tests.json': (row: {
    input: string;
    domain: string;
    path: string;
    err: GoError | null;
  }) => {
    if (row.err) {
      expectGoError(() => parseCanonical(row.input), row.err);
      return;
    }
    const n = parseCanonical(row.input);
    expect(n.domain).toBe(row.domain);
    expect(n.path).toBe(row.path);
  },
  'tables/TestParseRepositoryInfo__tests.json': (row: {
    FamiliarName: string;
    FullName: string;
    AmbiguousName: string;
    Domain: string;
    RemoteName: string;
  }) => {
    for (const input of [row.FamiliarName, row.FullName, row.AmbiguousName].filter(Boolean)) {
      const n = parseNormalized(input);
      expect(familiarName(n)).toBe(row.FamiliarName);
      expect(formatReference(n)).toBe(row.FullName);
      expect(n.domain).toBe(row.Domain);
      expect(n.path).toBe(row.RemoteName);
    }
  },
  'tables/TestReferenceParse__tests.json': (row: {
    input: string;
    err: GoError | null;
    repository: string;
    domain: string;
    tag: string;
    digest: string;
  }) => {
    if (row.input.includes('@sha512:')) {
      // Implementation-defined (see src/oci/reference.ts): we register sha512, like go-digest HEAD
      // and the golden outputs; the table's error only appears with a go-digest lacking sha512.
      expect(row.err?.error_var).toBe('digest.ErrDigestUnsupported');
      const r = parseExact(row.input);
      expect(r.digest).toBe(row.input.slice(row.input.indexOf('@') + 1));
      return;
    }
    if (row.err) {
      expectGoError(() => parseExact(row.input), row.err);
      return;
    }
    const r = parseExact(row.input);
    expect(formatReference(r)).toBe(row.input);
    expect(referenceName(r)).toBe(row.repository);
    expect(r.domain).toBe(row.domain);
    expect(r.tag ?? '').toBe(row.tag);
    expect(r.digest ?? '').toBe(row.digest);
  },
  'tables/TestReferenceRegexp__tests.json': (row: { input: string; match: boolean; subs: string[] }) => {
    const m = REFERENCE_REGEXP.exec(row.input);
    expect(m !== null).toBe(row.match);
    if (m && row.subs.length) expect([m[1] ?? '', m[2] ?? '', m[3] ?? '']).toEqual(row.subs);
  },
  'tables/TestSerialization__tests.json': (row: {
    input: string;
    err: GoError | null;
    name: string;
    tag: string;
    digest: string;
  }) => {
    if (row.err) {
      expectGoError(() => parseExact(row.input), row.err);
      return;
    }
    const r = parseExact(row.input);
    expect(referenceName(r)).toBe(row.name);
    expect(r.tag ?? '').toBe(row.tag);
    expect(r.digest ?? '').toBe(row.digest);
    // the field round-trips through JSON as its string form
    expect(JSON.parse(JSON.stringify({ Field: formatReference(r) }))).toEqual({ Field: row.input });
  },
  'tables/TestValidateReferenceName__invalidRepoNames.json': (row: string) => {
    expect(() => parseNormalized(row)).toThrow(ReferenceError);
  },
  'tables/TestValidateReferenceName__validRepoNames.json': (row: string) => {
    expect(() => parseNormalized(row)).not.toThrow();
  },
  'tables/TestValidateRemoteName__invalidRepositoryNames.json': (row: string) => {
    expect(() => parseNormalized(row)).toThrow(ReferenceError);
  },
  'tables/TestValidateRemoteName__validRepositoryNames.json': (row: string) => {
    expect(() => parseNormalized(row)).not.toThrow();
  },
  'tables/TestWithDigest__tests.json': (row: {
    name: string;
    tag: string;
    digest: string;
    combined: string;
  }) => {
    let n = withName(row.name);
    if (row.tag) n = withTag(n, row.tag);
    expect(formatReference(withDigest(n, row.digest))).toBe(row.combined);
  },
  'tables/TestWithNameFailure__tests.json': (row: { input: string; err: GoError }) => {
    expectGoError(() => withName(row.input), row.err);
  },
  'tables/TestWithTag__tests.json': (row: {
    name: string;
    tag: string;
    digest: string;
    combined: string;
  }) => {
    let n = withName(row.name);
    if (row.digest) n = withDigest(n, row.digest);
    expect(formatReference(withTag(n, row.tag))).toBe(row.combined);
  },
};

const index = JSON.parse(readFileSync(conformanceDir + 'index.json', 'utf8')) as {
  tables: { file: string; rows: number }[];
};

describe('distribution/reference conformance tables', () => {
  it('has a checker for every table in index.json', () => {
    expect(index.tables.length).toBeGreaterThan(0);
    expect(Object.keys(checkers).sort()).toEqual(index.tables.map((t) => t.file).sort());
  });
  for (const table of index.tables) {
    describe(table.file.replace('tables/', ''), () => {
      const rows = load<unknown>(table.file);
      it(`has the ${table.rows} rows index.json announces`, () => expect(rows).toHaveLength(table.rows));
      rows.forEach((row, i) => {
        const label = typeof row === 'string' ? row : JSON.stringify(row);
        it(`row ${i}: ${label.slice(0, 100)}`, () => {
          const check = checkers[table.file];
          expect(check).toBeDefined();
          (check as (r: unknown) => void)(row);
        });
      });
    });
  }
});

type GoldenResult =
  | GoError
  | {
      string: string;
      name?: string;
      domain?: string;
      path?: string;
      tag?: string;
      digest?: string;
      familiar_name?: string;
      familiar_string?: string;
    };
type GoldenRow = { input: string } & Record<
  'Parse' | 'ParseNormalizedNamed' | 'ParseDockerRef' | 'ParseAnyReference',
  GoldenResult
>;

describe('golden outputs of the Go parsers', () => {
  const golden = JSON.parse(
    readFileSync(conformanceDir + 'golden_outputs_generated.json', 'utf8'),
  ) as GoldenRow[];
  const parsers = {
    Parse: parseExact,
    ParseNormalizedNamed: parseNormalized,
    ParseDockerRef: parseDockerRef,
    ParseAnyReference: parseAnyReference,
  } as const;
  it('covers the inputs', () => expect(golden.length).toBeGreaterThan(100));
  golden.forEach((row, i) => {
    for (const [fn, parse] of Object.entries(parsers) as [
      keyof typeof parsers,
      (s: string) => ImageReference | DigestReference,
    ][]) {
      it(`${i} ${fn}(${JSON.stringify(row.input.slice(0, 80))})`, () => {
        const want = row[fn];
        if ('error_message' in want) {
          expectGoError(() => parse(row.input), want);
          return;
        }
        const r = parse(row.input);
        expect(formatReference(r)).toBe(want.string);
        expect(familiarString(r)).toBe(want.familiar_string ?? want.string);
        expect(r.digest ?? undefined).toBe(want.digest);
        if (isNamed(r)) {
          expect(nameOf(r)).toBe(want.name);
          expect(r.domain).toBe(want.domain);
          expect(r.path).toBe(want.path);
          expect(familiarName(r)).toBe(want.familiar_name);
          expect(r.tag).toBe(want.tag);
        } else {
          expect(want.name ?? '').toBe('');
        }
      });
    }
  });
});

describe('parseReference (gantry entry point)', () => {
  it('normalizes a familiar name', () => {
    expect(parseReference('nginx:1.25')).toEqual({ domain: 'docker.io', path: 'library/nginx', tag: '1.25' });
  });
  it('keeps a loopback registry with port as the domain', () => {
    const r = parseReference('127.0.0.1:5000/team/app@sha256:' + 'a'.repeat(64));
    expect(r).toEqual({ domain: '127.0.0.1:5000', path: 'team/app', digest: 'sha256:' + 'a'.repeat(64) });
  });
  it('names the input and the reason in the error', () => {
    expect(() => parseReference('Registry.example.com/Team/App:1')).toThrow(
      'invalid image reference "Registry.example.com/Team/App:1": invalid reference format: repository name (Team/App) must be lowercase',
    );
  });
  it("rejects a wrong-length digest with go-digest's reason", () => {
    expect(() => parseReference('app@sha256:' + 'a'.repeat(40))).toThrow(/invalid checksum digest length/);
  });
  it("accepts a tag of 128 characters and rejects one of 129 (the grammar's limit)", () => {
    expect(parseReference(`app:${'t'.repeat(128)}`).tag).toHaveLength(128);
    expect(() => parseReference(`app:${'t'.repeat(129)}`)).toThrow(/invalid reference format/);
  });
  it('ignores whitespace around a reference read from an input or a file', () => {
    expect(parseReference(' 127.0.0.1:5000/team/app:v1\n')).toEqual({
      domain: '127.0.0.1:5000',
      path: 'team/app',
      tag: 'v1',
    });
  });
});
