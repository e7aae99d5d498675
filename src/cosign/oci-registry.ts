/**
 * SignatureRegistry over the project's OCI registry client (src/oci: auth discovery, Basic/Bearer
 * tokens, retries with back-off, digest checks). A missing manifest is `undefined` here instead of
 * the client's not-found error, because "no signature tag yet" is a normal answer when signing.
 */
import { isGantryError } from '../core/errors.js';
import { RegistryClient, type Registry, type RegistryClientOptions } from '../oci/index.js';
import type { ImageReference } from '../oci/reference.js';
import type { SignatureRegistry } from './registry.js';

export function signatureRegistryFrom(client: Registry): SignatureRegistry {
  return {
    async getManifest(ref) {
      try {
        const m = await client.getManifest(ref);
        return { bytes: Buffer.from(m.bytes), mediaType: m.mediaType, digest: m.digest };
      } catch (e) {
        if (isGantryError(e, 'not-found')) return undefined;
        throw e;
      }
    },
    putManifest(ref, tag, bytes, mediaType) {
      const target: ImageReference = { domain: ref.domain, path: ref.path, tag };
      return client.putManifest(target, bytes, mediaType);
    },
    getBlob: (ref, digest) => client.getBlob(ref, digest),
    async putBlob(ref, bytes) {
      return (await client.pushBlob(ref, bytes)).digest;
    },
    async referrers(ref, digest, artifactType) {
      return client.getReferrers(
        { domain: ref.domain, path: ref.path, digest },
        artifactType ? { artifactType } : {},
      );
    },
    putReferrer: (subject, bytes, mediaType) => client.putReferrer(subject, bytes, mediaType),
  };
}

/** The default registry access for sign/verify: the OCI client with the given options. */
export function defaultSignatureRegistry(options: RegistryClientOptions = {}): SignatureRegistry {
  return signatureRegistryFrom(new RegistryClient(options));
}
