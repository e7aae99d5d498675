/**
 * The sign-image and verify-image jobs over their typed inputs — what the action entries and the
 * CLI commands both call. Everything is validated (references, key, password, mode) before the
 * first request, so a bad input or a wrong password pushes nothing.
 */
import { ConfigurationError, GantryError, errorMessage } from '../core/errors.js';
import { legacyAnnotationsFromBundle } from './bundle.js';
import { certificatePolicyFromTrustedRoot } from './keyless-policy.js';
import { INTOTO_PAYLOAD_TYPE } from './bundle-layout.js';
import type { Logger } from '../core/logging.js';
import type { Inputs } from '../core/inputs.js';
import {
  chooseSigningMode,
  fetchOidcToken,
  readSignInputs,
  readVerifyInputs,
  type SignInputs,
  type VerifyInputs,
} from './inputs.js';
import { loadSigningKey, loadVerificationKey } from './keys.js';
import { defaultSignatureRegistry } from './oci-registry.js';
import type { SignatureRegistry } from './registry.js';
import { signImages, type SignedImage } from './sign-image.js';
import {
  parseImageInput,
  verifyImages,
  type ImageVerification,
  type ImageVerificationPolicy,
} from './verify-image.js';
import { cjsExports } from '../core/cjs-interop.js';

/** The keyless policy builder, shared with k3s-deploy's signature gate (src/kube/images.ts). */
export { certificatePolicyFromTrustedRoot } from './keyless-policy.js';

export interface RunContext {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Injected in tests and benchmarks; default: the HTTP client with the inputs' credentials. */
  registry?: SignatureRegistry;
}

function registryFor(
  inputs: { registryUsername: string | undefined; registryPassword: string | undefined },
  env: NodeJS.ProcessEnv,
  logger: Logger,
): SignatureRegistry {
  const { registryUsername: username, registryPassword: password } = inputs;
  // explicit credentials win; otherwise the OCI client reads GANTRY_REGISTRY_* and docker config
  return defaultSignatureRegistry({
    env,
    logger,
    ...(username && password ? { credentials: { username, password } } : {}),
  });
}

/** Signs the images; returns the `signatures` output. */
export async function runSign(inputs: SignInputs, ctx: RunContext): Promise<SignedImage[]> {
  ctx.logger.mask(inputs.password);
  ctx.logger.mask(inputs.registryPassword);
  if (inputs.key?.includes('-----BEGIN')) ctx.logger.mask(inputs.key);
  for (const image of inputs.images) parseImageInput(image);
  const mode = chooseSigningMode(inputs.mode, inputs.key, ctx.env);
  const registry = ctx.registry ?? registryFor(inputs, ctx.env, ctx.logger);
  if (mode === 'keyless') {
    const token = await fetchOidcToken(ctx.env);
    ctx.logger.mask(token);
    const services = { fulcioURL: inputs.fulcioUrl, rekorURL: inputs.rekorUrl, identityToken: token };
    const failed = (e: unknown): GantryError =>
      new GantryError(
        'infrastructure',
        `keyless signing via ${inputs.fulcioUrl} and ${inputs.rekorUrl} failed: ${errorMessage(e)}`,
        {
          cause: e,
          hint: 'check that Fulcio and Rekor are reachable, or sign with a key (mode: key)',
        },
      );
    const keyless = async (payload: Buffer): Promise<Record<string, string>> => {
      const { sign } = cjsExports(await import('sigstore'), 'sign');
      try {
        return legacyAnnotationsFromBundle(await sign(payload, services));
      } catch (e) {
        throw failed(e);
      }
    };
    // bundle format: a DSSE bundle over cosign v3's in-toto statement (sigstore-js attest)
    const keylessBundle = async (statement: Buffer): Promise<unknown> => {
      const { attest } = cjsExports(await import('sigstore'), 'attest');
      try {
        return await attest(statement, INTOTO_PAYLOAD_TYPE, services);
      } catch (e) {
        throw failed(e);
      }
    };
    return ctx.logger.group('sign (keyless)', () =>
      signImages({
        registry,
        images: inputs.images,
        keyless,
        keylessBundle,
        format: inputs.format,
        annotations: inputs.annotations,
        recursive: inputs.recursive,
        logger: ctx.logger,
      }),
    );
  }
  // Decrypting the key (scrypt) overlaps the registry reads; nothing is pushed until it succeeded.
  const key = loadSigningKey({
    key: inputs.key ?? '',
    password: inputs.password,
    env: ctx.env,
    label: 'key',
  }).then((k) => {
    ctx.logger.info(`loaded ${k.algorithm} key from ${k.source}`);
    return k;
  });
  key.catch(() => undefined); // handled where it is awaited; avoid an unhandled rejection meanwhile
  return ctx.logger.group('sign', () =>
    signImages({
      registry,
      images: inputs.images,
      key,
      format: inputs.format,
      annotations: inputs.annotations,
      recursive: inputs.recursive,
      logger: ctx.logger,
    }),
  );
}

/** Verifies the images; the caller decides the exit code from `verified`. */
export async function runVerify(inputs: VerifyInputs, ctx: RunContext): Promise<ImageVerification[]> {
  ctx.logger.mask(inputs.registryPassword);
  for (const image of inputs.images) parseImageInput(image);
  const policy: ImageVerificationPolicy = {
    annotations: inputs.annotations,
    checkReference: inputs.checkReference,
    format: inputs.format,
  };
  if (inputs.keys.length) {
    policy.keys = await Promise.all(
      inputs.keys.map((key) => loadVerificationKey({ key, env: ctx.env, label: 'key' })),
    );
  } else {
    if (!inputs.trustedRoot) {
      throw new ConfigurationError('keyless verification needs trusted-root (a Sigstore trusted_root.json)', {
        input: 'trusted-root',
      });
    }
    Object.assign(policy, await certificatePolicyFromTrustedRoot(inputs));
  }
  const registry = ctx.registry ?? registryFor(inputs, ctx.env, ctx.logger);
  const results = await ctx.logger.group('verify', () => verifyImages(registry, inputs.images, policy));
  for (const r of results) {
    if (r.verified) {
      ctx.logger.info(
        `verified ${r.image} (${r.digest ?? ''}): ${r.signatures.length} valid signature(s) by ${[...new Set(r.signatures.map((s) => s.signer))].join(', ')}`,
      );
    } else {
      ctx.logger.error(`NOT verified ${r.image}: ${r.problems.join('; ')}`);
    }
  }
  return results;
}

/** The sign-image action body: INPUT_* → signatures output. */
export async function signImageAction(ctx: ActionContextLike): Promise<number> {
  const inputs = readSignInputs(ctx.inputs);
  const signed = await runSign(inputs, { env: ctx.env, logger: ctx.logger });
  ctx.setOutput(
    'signatures',
    signed.map((s) => ({ image: s.image, digest: s.digest, 'signature-ref': s['signature-ref'] })),
  );
  return 0;
}

/** The verify-image action body: exit 1 unless every image has a valid signature. */
export async function verifyImageAction(ctx: ActionContextLike): Promise<number> {
  const inputs = readVerifyInputs(ctx.inputs);
  const results = await runVerify(inputs, { env: ctx.env, logger: ctx.logger });
  const ok = results.every((r) => r.verified);
  ctx.setOutput('verified', ok);
  ctx.setOutput('results', results);
  return ok ? 0 : 1;
}

/** What the action bodies use of the action context (src/actions/run-action.ts). */
export interface ActionContextLike {
  inputs: Inputs;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  setOutput(name: string, value: string | number | boolean | object): void;
}
