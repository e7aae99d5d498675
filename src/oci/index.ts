/**
 * The OCI layer's public surface: image references, digests, manifests and the registry client.
 * Other modules import from here rather than from the individual files.
 */
export * from './reference.js';
export * from './digest.js';
export * from './manifest.js';
export {
  RegistryClient,
  isLoopbackRegistry,
  nextLink,
  referrersTag,
  type BlobDescriptor,
  type FetchedManifest,
  type ManifestHead,
  type PushBlobOptions,
  type RefLike,
  type Registry,
  type RegistryClientOptions,
  type RegistryRetryOptions,
} from './registry.js';
export {
  credentialsFromDockerConfig,
  credentialsFromEnv,
  dockerConfigPath,
  lookupCredentials,
  parseWwwAuthenticate,
  type Challenge,
  type Credentials,
} from './auth.js';
export {
  NodeHttpTransport,
  TransportError,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
} from './http.js';
export { inspectImage, type ImageInspection } from './inspect.js';
