import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import {
  buildSimpleSigningPayload,
  goJsonMarshal,
  parseSimpleSigningPayload,
} from '../../src/cosign/payload.js';
import { readConformanceJson } from './conformance.js';

interface MarshalCase {
  desc: string;
  image: string;
  annotations: Record<string, unknown> | null;
  claimed_identity: string | null;
  expected: string;
}
interface UnmarshalCase {
  desc: string;
  payload: string;
  expect_error: boolean;
  expected?: { image: string; claimed_identity: string; annotations: Record<string, unknown> | null };
}
const cases = readConformanceJson<{ marshal: MarshalCase[]; unmarshal: UnmarshalCase[] }>(
  'simple-signing',
  'payload_cases.json',
);

describe('simple-signing payload (conformance: sigstore/sigstore payload_test.go)', () => {
  for (const c of cases.marshal) {
    it(`marshal: ${c.desc} is byte-for-byte cosign's`, () => {
      const [repository, digest] = c.image.split('@') as [string, string];
      const bytes = buildSimpleSigningPayload({
        repository,
        digest,
        annotations: c.annotations ?? undefined,
        ...(c.claimed_identity ? { claimedIdentity: c.claimed_identity } : {}),
      });
      expect(bytes.toString('utf8')).toBe(c.expected);
    });
  }
  for (const c of cases.unmarshal) {
    it(`unmarshal: ${c.desc}`, () => {
      if (c.expect_error) {
        let err: unknown;
        try {
          parseSimpleSigningPayload(Buffer.from(c.payload));
        } catch (e) {
          err = e;
        }
        expect(isGantryError(err, 'signature-invalid')).toBe(true);
        return;
      }
      const p = parseSimpleSigningPayload(Buffer.from(c.payload));
      const [, digest] = (c.expected?.image ?? '').split('@');
      expect(p.critical.image['docker-manifest-digest']).toBe(digest);
      expect(p.critical.identity['docker-reference']).toBe(c.expected?.claimed_identity);
      expect(p.optional).toEqual(c.expected?.annotations);
    });
  }

  it("escapes like Go's json.Marshal (HTML characters, line separators) and sorts nested keys", () => {
    expect(goJsonMarshal({ b: '<a&b>', a: { z: 1, y: '\u2028' } })).toBe(
      '{"a":{"y":"\\u2028","z":1},"b":"\\u003ca\\u0026b\\u003e"}',
    );
  });

  it('empty annotations are written as null, like cosign', () => {
    const p = buildSimpleSigningPayload({
      repository: 'r/x',
      digest: 'sha256:' + 'a'.repeat(64),
      annotations: {},
    });
    expect(p.toString()).toMatch(/"optional":null}$/);
  });
});
