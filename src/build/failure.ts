/**
 * Why a build command failed, decided from its log: a transient registry problem during the push
 * (5xx, 429, reset connections — worth another try, the build itself is cached) or anything else
 * (a Dockerfile error, a failing RUN step, a denied push — retrying would only repeat it).
 */

/** Signs of a broken build: these are never retried even if a network word appears nearby. */
const BUILD_ERRORS: RegExp[] = [
  /dockerfile parse error/i,
  /failed to (?:solve|compute cache key).*(?:not found|parse|did not complete successfully)/i,
  /did not complete successfully: exit code/i,
  /executor failed running/i,
  /unknown instruction/i,
  /target stage .* could not be found/i,
  /failed to read dockerfile/i,
  /^Error: building at STEP /m, // buildah: a failing instruction
];

/** Transient registry/transport errors (distribution's and Go's net/http wording). */
const TRANSIENT: RegExp[] = [
  /\b50[0234]\b[^\n]*(?:internal server error|bad gateway|service unavailable|gateway time-?out)/i,
  /(?:internal server error|bad gateway|service unavailable|gateway time-?out)/i,
  /\b429\b|too many requests|toomanyrequests/i,
  /^ERROR: unavailable:/m, // distribution's UNAVAILABLE error code, as buildx prints it
  /connection reset by peer/i,
  /unexpected EOF/,
  /i\/o timeout/i,
  /TLS handshake timeout/i,
  /broken pipe/i,
  /connection refused/i,
  /server closed idle connection/i,
];

const PERMANENT_PUSH: RegExp[] = [/\b40[13]\b|unauthorized|denied|authentication required/i];

export type FailureKind = 'transient' | 'build' | 'other';

/** Classifies a failed build/push from its combined output. */
export function classifyBuildFailure(output: string): FailureKind {
  if (BUILD_ERRORS.some((r) => r.test(output))) return 'build';
  if (PERMANENT_PUSH.some((r) => r.test(lastLines(output, 15)))) return 'other';
  if (TRANSIENT.some((r) => r.test(lastLines(output, 15)))) return 'transient';
  return 'other';
}

/** The last `n` non-empty lines of a log. */
export function lastLines(text: string, n: number): string {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .join('\n');
}
