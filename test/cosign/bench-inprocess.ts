/**
 * The in-process half of the cosign bench section (bench-section.mjs bundles this file): sign and
 * verify one image with the library exactly as the sign-image / verify-image actions run it.
 */
import { loadSigningKey, loadVerificationKey } from '../../src/cosign/keys.js';
import { defaultSignatureRegistry } from '../../src/cosign/oci-registry.js';
import { signImages } from '../../src/cosign/sign-image.js';
import { verifyImage } from '../../src/cosign/verify-image.js';

export async function signOnce(
  ref: string,
  key: string,
  password: string,
  format: 'legacy' | 'bundle' = 'legacy',
): Promise<void> {
  const registry = defaultSignatureRegistry({ env: {}, dockerConfig: false });
  await signImages({ registry, images: [ref], key: loadSigningKey({ key, password, env: {} }), format });
}

export async function verifyOnce(
  ref: string,
  pub: string,
  format: 'legacy' | 'bundle' | 'auto' = 'auto',
): Promise<void> {
  const registry = defaultSignatureRegistry({ env: {}, dockerConfig: false });
  const r = await verifyImage(registry, ref, { keys: [await loadVerificationKey({ key: pub })], format });
  if (!r.verified) throw new Error(`not verified: ${r.problems.join('; ')}`);
}
