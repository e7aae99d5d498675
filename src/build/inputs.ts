/**
 * The build-multiarch inputs, read in one place for the action (INPUT_*) and `gantry build`
 * (flags): one typed object keyed like action.yml, validated before anything is built or pushed.
 */
import { ConfigurationError } from '../core/errors.js';
import type { Inputs } from '../core/inputs.js';

export type BuildMode = 'build' | 'platform' | 'merge';
export type BuilderKind = 'buildx' | 'buildah';
export type CacheMode = 'registry' | 'gha' | 'none';

export interface BuildInputs {
  /**
   * `build`: everything (default). `platform`: build and push each platform under its per-platform
   * tag only (`<sha>-linux-arm64`), for one runner per architecture. `merge`: combine per-platform
   * images (from `digests`, else the per-platform tags of this commit) into one tagged index.
   */
  mode: BuildMode;
  builder: BuilderKind;
  context: string;
  /** Dockerfile path; default `<context>/Dockerfile`. */
  file: string | undefined;
  /** Stages to build, one image each; empty = the Dockerfile's last stage, one image. */
  targets: string[];
  /** Repository, or a template with `{target}`: `gitea.example.com/acme/app-{target}`. */
  image: string;
  username: string | undefined;
  password: string | undefined;
  /** Where to log in; default: the registry host of `image`. */
  registry: string | undefined;
  platforms: string[];
  /** undefined = by event: false on pull requests, true otherwise. */
  push: boolean | undefined;
  buildArgs: Record<string, string>;
  /** id → value (values masked; passed to the builder through its environment, never argv). */
  secrets: Record<string, string>;
  /** id → name of an environment variable holding the value. */
  secretEnvs: Record<string, string>;
  /** id → path of a file holding the value. */
  secretFiles: Record<string, string>;
  cache: CacheMode;
  noCache: boolean;
  pull: boolean;
  provenance: boolean;
  sbom: boolean;
  latest: boolean;
  tags: string[];
  labels: Record<string, string>;
  /** merge mode: `sha256:…`, `<target>=sha256:…` or `<repo>@sha256:…` items. */
  digests: string[];
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// registry host[:port] (optional) + lowercase path components (docker reference grammar, loosely)
const REPOSITORY =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** The image repository for a target: `{target}` replaced. */
export function imageFor(template: string, target: string | undefined): string {
  return template.replaceAll('{target}', target ?? '');
}

/** The registry host of a repository (docker's rule: the first component if it has . or : or is localhost). */
export function registryHostOf(repository: string): string {
  const first = repository.split('/')[0] ?? '';
  if (repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost'))
    return first;
  return 'docker.io';
}

/** Reads and validates every input; throws a ConfigurationError naming the first bad one. */
export function getBuildInputs(inputs: Inputs, env: NodeJS.ProcessEnv = {}): BuildInputs {
  const fail = (input: string, message: string): never => {
    throw new ConfigurationError(`${inputs.source.label(input)} ${message}`, { input });
  };
  const mode = inputs.oneOf<BuildMode>('mode', ['build', 'platform', 'merge'], 'build');
  const builder = inputs.oneOf<BuilderKind>('builder', ['buildx', 'buildah'], 'buildx');
  const targets = inputs.list('targets');
  for (const t of targets) if (!TARGET.test(t)) fail('targets', `has "${t}", not a Dockerfile stage name`);
  if (new Set(targets).size !== targets.length) fail('targets', 'names a target twice');
  const image = inputs.required('image');
  if (targets.length > 1 && !image.includes('{target}')) {
    fail(
      'image',
      `is "${image}" but ${targets.length} targets would share it; put {target} in it, e.g. ${image}-{target}`,
    );
  }
  for (const t of targets.length ? targets : [undefined]) {
    const repo = imageFor(image, t);
    if (!REPOSITORY.test(repo)) {
      fail(
        'image',
        `gives "${repo}", not an image repository (lowercase, no tag or digest: registry/org/name)`,
      );
    }
  }
  const platforms = inputs.list('platforms');
  if (platforms.length === 0) platforms.push('linux/amd64');
  for (const p of platforms)
    if (!PLATFORM.test(p)) fail('platforms', `has "${p}", not os/arch[/variant] like linux/arm64`);
  if (new Set(platforms).size !== platforms.length) fail('platforms', 'names a platform twice');
  if (mode === 'platform' && platforms.length !== 1) {
    fail(
      'platforms',
      `has ${platforms.length} platforms, but mode "platform" builds exactly one (one runner per platform)`,
    );
  }

  const username = inputs.optional('username');
  const password = inputs.optional('password') ?? nonBlank(env.GANTRY_REGISTRY_PASSWORD);
  if ((username === undefined) !== (password === undefined)) {
    fail(
      username === undefined ? 'username' : 'password',
      'is missing: give username and password together, or neither',
    );
  }
  const secretEnvs = inputs.map('secret-envs');
  for (const [id, name] of Object.entries(secretEnvs)) {
    if (env[name] === undefined)
      fail('secret-envs', `refers to environment variable ${name} (secret "${id}"), which is not set`);
  }
  const secrets = inputs.map('secrets');
  const secretFiles = inputs.map('secret-files');
  const ids = [...Object.keys(secrets), ...Object.keys(secretEnvs), ...Object.keys(secretFiles)];
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) fail('secrets', `secret id "${dup}" is given more than once (secrets, secret-envs, secret-files)`);

  const digests = inputs.list('digests');
  if (digests.length > 0 && mode !== 'merge') fail('digests', 'is only used with mode: merge');
  for (const d of digests) {
    if (!/(^|[=@])sha256:[0-9a-f]{64}$/.test(d))
      fail('digests', `has "${d}"; write sha256:<hex>, <target>=sha256:<hex> or <repo>@sha256:<hex>`);
  }
  const push = inputs.optionalBoolean('push');
  if (mode !== 'build' && push === false) fail('push', `is false, but mode "${mode}" exists to push`);

  return {
    mode,
    builder,
    context: inputs.string('context', '.'),
    file: inputs.optional('file'),
    targets,
    image,
    username,
    password,
    registry: inputs.optional('registry'),
    platforms,
    push,
    buildArgs: inputs.map('build-args'),
    secrets,
    secretEnvs,
    secretFiles,
    cache: inputs.oneOf<CacheMode>('cache', ['registry', 'gha', 'none'], 'registry'),
    noCache: inputs.boolean('no-cache', false),
    pull: inputs.boolean('pull', false),
    provenance: inputs.boolean('provenance', false),
    sbom: inputs.boolean('sbom', false),
    latest: inputs.boolean('latest', false),
    tags: inputs.list('tags'),
    labels: inputs.map('labels'),
    digests,
  };
}

function nonBlank(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}
