/**
 * The coded error family every gantry module throws. The code decides the process exit status
 * (DESIGN.md: 0 ok, 1 the checked thing failed, 2 bad input/configuration, 3 infrastructure),
 * and tests assert on codes instead of message text.
 */
export type ErrorCode =
  | 'configuration' // bad input, flag, config file, key password … (exit 2)
  | 'input' // malformed data supplied by the user, e.g. an image reference (exit 2)
  | 'not-found' // the checked thing does not exist (exit 1)
  | 'check-failed' // unhealthy, unsigned, vulnerable … (exit 1)
  | 'signature-invalid' // (exit 1)
  | 'rollout-failed' // (exit 1)
  | 'auth' // credentials rejected (exit 3: infrastructure/config around us, not our verdict)
  | 'timeout' // (exit 3)
  | 'infrastructure' // registry/cluster unreachable, daemon missing … (exit 3)
  | 'command-failed' // an external command failed (exit 3)
  | 'cancelled'; // SIGTERM/SIGINT (exit 3)

const EXIT_CODES: Record<ErrorCode, number> = {
  configuration: 2,
  input: 2,
  'not-found': 1,
  'check-failed': 1,
  'signature-invalid': 1,
  'rollout-failed': 1,
  auth: 3,
  timeout: 3,
  infrastructure: 3,
  'command-failed': 3,
  cancelled: 3,
};

export interface GantryErrorOptions {
  cause?: unknown;
  /** What the operator should do about it; printed after the message. */
  hint?: string;
}

export class GantryError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly hint: string | undefined;

  constructor(code: C, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.code = code;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Bad input or configuration: names the input and the fix. Exit code 2, nothing touched. */
export class ConfigurationError extends GantryError<'configuration'> {
  readonly input: string | undefined;
  constructor(message: string, options: GantryErrorOptions & { input?: string } = {}) {
    super('configuration', message, options);
    this.name = 'ConfigurationError';
    this.input = options.input;
  }
}

export function isGantryError(e: unknown, code?: ErrorCode): e is GantryError {
  return e instanceof GantryError && (code === undefined || e.code === code);
}

/** The exit status for any thrown value: coded errors map by code, anything else is 3. */
export function exitCodeFor(e: unknown): number {
  return e instanceof GantryError ? e.exitCode : 3;
}

/** A readable one-line message for any thrown value, including non-Error throws. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

/** The message plus hint and the chain of causes, for logs. */
export function describeError(e: unknown): string {
  const parts = [errorMessage(e)];
  if (e instanceof GantryError && e.hint) parts.push(`  hint: ${e.hint}`);
  let cause = e instanceof Error ? e.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    const msg = errorMessage(cause);
    if (!parts[0]?.includes(msg)) parts.push(`  caused by: ${msg}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join('\n');
}
