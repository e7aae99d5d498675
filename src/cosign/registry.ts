/**
 * The registry verbs signing and verification need — and nothing else — so the cosign logic is
 * tested against a plain-object fake and runs over whichever client implements them (the OCI
 * client of src/oci through `oci-registry.ts`, or a fake).
 */
import type { ImageReference } from '../oci/reference.js';

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  /** `sha256:…` of `bytes`. */
  digest: string;
}

export interface SignatureRegistry {
  /** The manifest at a tag or digest of `ref`'s repository; undefined when it does not exist (404). */
  getManifest(ref: ImageReference): Promise<FetchedManifest | undefined>;
  /** Stores a manifest under `tag` (or under its digest when tag is undefined); returns its digest. */
  putManifest(
    ref: ImageReference,
    tag: string | undefined,
    bytes: Buffer,
    mediaType: string,
  ): Promise<string>;
  getBlob(ref: ImageReference, digest: string): Promise<Buffer>;
  /** Uploads a blob unless the registry has it; returns its digest. */
  putBlob(ref: ImageReference, bytes: Buffer): Promise<string>;
  /**
   * The OCI referrers of a digest (optionally filtered by artifactType), or undefined when the
   * registry has no referrers API (then the `sha256-<hex>` tag fallback applies).
   */
  referrers?(
    ref: ImageReference,
    digest: string,
    artifactType?: string,
  ): Promise<ReferrerDescriptor[] | undefined>;
  /**
   * Pushes a manifest whose `subject` is `subject` (a reference with a digest) by its digest and
   * makes it findable as a referrer (referrers API, else the `sha256-<hex>` tag index); returns its
   * digest.
   */
  putReferrer?(subject: ImageReference, bytes: Buffer, mediaType: string): Promise<string>;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}
