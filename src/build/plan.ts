/**
 * The build plan: a pure function of the inputs, the commit and what the builder can do, turned
 * into the exact argv of every command (buildx or buildah) per target and platform. Nothing here
 * runs anything, so one table-driven test pins what gantry will execute.
 *
 * Multi-platform strategies, in order of preference:
 *  - a builder that does it in one call (buildx docker-container/kubernetes drivers; buildah
 *    `--manifest` + `manifest push --all`);
 *  - buildx's `docker` driver (the default on a plain dockerd) cannot build several platforms in one
 *    call nor push by digest, so each platform is pushed under `<sha>-<os>-<arch>` and the final tags
 *    are made with `docker buildx imagetools create` from those digests (the `merge` step).
 */
import { join } from 'node:path';
import type { GitContext } from './git-context.js';
import { imageFor, registryHostOf, type BuildInputs } from './inputs.js';
import { computeTags, defaultPush, ociLabels, platformTag } from './tags.js';

/** What the selected builder can do; detected at run time, a plain value here. */
export interface Capabilities {
  /** Several platforms in one build call. */
  multiPlatform: boolean;
  /** Cache export (`--cache-to`); the buildx docker driver has none. */
  cacheExport: boolean;
  /** The runner offers the GitHub Actions cache service (ACTIONS_CACHE_URL + ACTIONS_RUNTIME_TOKEN). */
  ghaCache: boolean;
  /** buildx driver name, for messages. */
  driver?: string;
}

export interface PlanContext {
  git: GitContext;
  /** Private scratch directory of this run (metadata files, buildah secret files). */
  workDir: string;
  capabilities: Capabilities;
  /** buildah `--isolation`; chroot is the one that works in unprivileged runner containers. */
  buildahIsolation?: string;
}

export interface CommandLine {
  command: 'docker' | 'buildah';
  args: string[];
}

/** One build invocation (one or more platforms) and where its result is written. */
export interface BuildStep extends CommandLine {
  platforms: string[];
  /** buildx `--metadata-file`. */
  metadataFile?: string;
  /** buildah: the local image or manifest list name the push steps read. */
  localName?: string;
  /** Full references this step pushes (buildx pushes during the build). */
  pushes: string[];
  /** buildah pushes: one per reference, each writing `--digestfile`. */
  pushSteps: (CommandLine & { ref: string; digestFile: string })[];
}

/** Combine per-platform digests into one index carrying the final tags. */
export interface MergeStep {
  /** Full references to tag the index with. */
  refs: string[];
  /** Platforms expected in the index, in order. */
  platforms: string[];
}

export interface TargetPlan {
  /** The target name, or `image` when no targets were given. */
  name: string;
  target: string | undefined;
  image: string;
  /** Final tags (names only). */
  tags: string[];
  platforms: string[];
  labels: Record<string, string>;
  builds: BuildStep[];
  merge: MergeStep | undefined;
}

/** A secret written to a file for buildah: the value itself, or the name of the variable holding it. */
export type SecretFile = { path: string; value: string } | { path: string; env: string };

export interface BuildPlan {
  mode: BuildInputs['mode'];
  builder: BuildInputs['builder'];
  push: boolean;
  /** Registry to log in to (when credentials are given). */
  registry: string;
  targets: TargetPlan[];
  /** Environment the build commands need (secret values referenced by `env=`); never logged. */
  secretEnv: Record<string, string>;
  /** Files to write (0600) before building and delete afterwards: buildah takes secrets from files. */
  secretFiles: SecretFile[];
  /** Degraded-but-going-on notes (cache not available with this driver …). */
  warnings: string[];
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/;

/** Docker treats loopback registries as insecure (plain HTTP) by default; buildah needs to be told. */
export function isLoopbackRegistry(host: string): boolean {
  return LOOPBACK.test(host);
}

function sorted(record: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

function dockerfilePath(inputs: BuildInputs): string {
  return inputs.file ?? join(inputs.context, 'Dockerfile');
}

/** Builds the whole plan. Pure: same inputs, same plan. */
export function toPlan(inputs: BuildInputs, ctx: PlanContext): BuildPlan {
  const { git, capabilities: caps } = ctx;
  const push = inputs.mode !== 'build' ? true : (inputs.push ?? defaultPush(git));
  const tags = computeTags(git, { latest: inputs.latest, extra: inputs.tags });
  const warnings: string[] = [];
  const secretEnv: Record<string, string> = {};
  const secretFiles: SecretFile[] = [];

  // Secrets: buildx reads values from env (`env=`) or files (`src=`); buildah 1.28 only from files.
  const buildxSecrets: string[] = [];
  const buildahSecrets: string[] = [];
  sorted(inputs.secrets).forEach(([id, value], i) => {
    const envName = `GANTRY_BUILD_SECRET_${i}`;
    secretEnv[envName] = value;
    buildxSecrets.push(`id=${id},env=${envName}`);
    const path = join(ctx.workDir, 'secrets', `${i}`);
    secretFiles.push({ path, value });
    buildahSecrets.push(`id=${id},src=${path}`);
  });
  sorted(inputs.secretEnvs).forEach(([id, name], i) => {
    buildxSecrets.push(`id=${id},env=${name}`);
    const path = join(ctx.workDir, 'secrets', `env-${i}`);
    secretFiles.push({ path, env: name });
    buildahSecrets.push(`id=${id},src=${path}`);
  });
  for (const [id, file] of sorted(inputs.secretFiles)) {
    buildxSecrets.push(`id=${id},src=${file}`);
    buildahSecrets.push(`id=${id},src=${file}`);
  }

  if (inputs.cache === 'gha' && !caps.ghaCache) {
    warnings.push(
      'cache "gha": this runner offers no Actions cache service (ACTIONS_CACHE_URL unset); building without cache',
    );
  }
  const cacheUsed = inputs.cache === 'registry' || (inputs.cache === 'gha' && caps.ghaCache);
  if (cacheUsed && inputs.builder === 'buildx' && !caps.cacheExport && push) {
    warnings.push(
      `cache "${inputs.cache}": the buildx "${caps.driver ?? 'docker'}" driver cannot export cache, so this build reads the cache but does not write it` +
        ' (use a docker-container builder to write it)',
    );
  }
  if (cacheUsed && inputs.builder === 'buildah') {
    warnings.push(`cache "${inputs.cache}": not used with buildah (layers are cached in local storage only)`);
  }

  const registry = inputs.registry ?? registryHostOf(imageFor(inputs.image, inputs.targets[0]));
  const names = inputs.targets.length > 0 ? inputs.targets : [undefined];
  const targets = names.map((target): TargetPlan => {
    const image = imageFor(inputs.image, target);
    const name = target ?? 'image';
    const labels = ociLabels(git, { title: target ?? image.split('/').pop() ?? image, extra: inputs.labels });
    const t: TargetPlan = {
      name,
      target,
      image,
      tags,
      platforms: inputs.platforms,
      labels,
      builds: [],
      merge: undefined,
    };
    if (inputs.mode === 'merge') {
      t.merge = { refs: tags.map((tag) => `${image}:${tag}`), platforms: inputs.platforms };
      return t;
    }
    const finalRefs = inputs.mode === 'platform' ? [] : tags.map((tag) => `${image}:${tag}`);
    const common = { inputs, ctx, image, target, labels, buildxSecrets, buildahSecrets, cacheUsed };
    if (inputs.builder === 'buildah') {
      t.builds.push(
        buildahStep({
          ...common,
          platforms: inputs.platforms,
          refs: perPlatformOrFinal(inputs, git, image, finalRefs),
          push,
        }),
      );
    } else if (inputs.platforms.length === 1 || caps.multiPlatform) {
      const refs = perPlatformOrFinal(inputs, git, image, finalRefs);
      t.builds.push(buildxStep({ ...common, platforms: inputs.platforms, refs, push, index: 0 }));
    } else {
      // docker driver: one build per platform under its own tag, then one index with the final tags
      inputs.platforms.forEach((platform, index) => {
        const refs = [`${image}:${platformTag(git, platform)}`];
        t.builds.push(buildxStep({ ...common, platforms: [platform], refs, push, index }));
      });
      if (push) t.merge = { refs: finalRefs, platforms: inputs.platforms };
    }
    return t;
  });
  return {
    mode: inputs.mode,
    builder: inputs.builder,
    push,
    registry,
    targets,
    secretEnv,
    secretFiles,
    warnings,
  };
}

function perPlatformOrFinal(
  inputs: BuildInputs,
  git: GitContext,
  image: string,
  finalRefs: string[],
): string[] {
  if (inputs.mode !== 'platform') return finalRefs;
  return [`${image}:${platformTag(git, inputs.platforms[0] ?? 'linux/amd64')}`];
}

interface StepOptions {
  inputs: BuildInputs;
  ctx: PlanContext;
  image: string;
  target: string | undefined;
  labels: Record<string, string>;
  buildxSecrets: string[];
  buildahSecrets: string[];
  cacheUsed: boolean;
  platforms: string[];
  refs: string[];
  push: boolean;
}

function buildxStep(o: StepOptions & { index: number }): BuildStep {
  const { inputs, ctx } = o;
  const caps = ctx.capabilities;
  const metadataFile = join(ctx.workDir, `${o.target ?? 'image'}-${o.index}.metadata.json`);
  const args = ['buildx', 'build', '--progress', 'plain', '--file', dockerfilePath(inputs)];
  if (o.target) args.push('--target', o.target);
  args.push('--platform', o.platforms.join(','));
  for (const ref of o.refs) args.push('--tag', ref);
  for (const [k, v] of sorted(o.labels)) args.push('--label', `${k}=${v}`);
  for (const [k, v] of sorted(inputs.buildArgs)) args.push('--build-arg', `${k}=${v}`);
  for (const s of o.buildxSecrets) args.push('--secret', s);
  // Attestations are off unless asked for: with them buildx pushes an index whose extra manifests
  // have platform unknown/unknown, which some registries (Gitea's among them) list as bogus images
  // and which changes a single-platform push into an index — the digest users expect changes too.
  args.push(`--provenance=${inputs.provenance}`, `--sbom=${inputs.sbom}`);
  if (o.cacheUsed && !inputs.noCache) {
    if (inputs.cache === 'gha') {
      args.push('--cache-from', `type=gha,scope=${o.image}`);
      if (caps.cacheExport && o.push) args.push('--cache-to', `type=gha,scope=${o.image},mode=max`);
    } else {
      args.push('--cache-from', `type=registry,ref=${o.image}:buildcache`);
      if (caps.cacheExport && o.push)
        args.push('--cache-to', `type=registry,ref=${o.image}:buildcache,mode=max`);
    }
  }
  if (inputs.noCache) args.push('--no-cache');
  if (inputs.pull) args.push('--pull');
  args.push('--metadata-file', metadataFile);
  if (o.push) args.push('--push');
  else if (caps.multiPlatform && o.platforms.length === 1) args.push('--load');
  args.push(inputs.context);
  return {
    command: 'docker',
    args,
    platforms: o.platforms,
    metadataFile,
    pushes: o.push ? o.refs : [],
    pushSteps: [],
  };
}

function buildahStep(o: StepOptions): BuildStep {
  const { inputs, ctx } = o;
  const run = ctx.workDir.split('/').pop() ?? 'run';
  const localName = `localhost/gantry-build/${o.target ?? 'image'}:${run.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}`;
  const multi = o.platforms.length > 1;
  const args = ['bud', '--isolation', ctx.buildahIsolation ?? 'chroot', '--file', dockerfilePath(inputs)];
  if (o.target) args.push('--target', o.target);
  args.push('--platform', o.platforms.join(','));
  args.push(multi ? '--manifest' : '--tag', localName);
  for (const [k, v] of sorted(o.labels)) args.push('--label', `${k}=${v}`);
  for (const [k, v] of sorted(inputs.buildArgs)) args.push('--build-arg', `${k}=${v}`);
  for (const s of o.buildahSecrets) args.push('--secret', s);
  // No --layers: buildah 1.28's layer cache ignores the platform, so the arm64 build of a
  // COPY-only stage reuses the amd64 image and the manifest list ends up with one entry.
  if (inputs.noCache) args.push('--no-cache');
  if (inputs.pull) args.push('--pull=always');
  args.push(inputs.context);
  const tls = isLoopbackRegistry(registryHostOf(o.image)) ? ['--tls-verify=false'] : [];
  const pushSteps = o.push
    ? o.refs.map((ref, i) => {
        const digestFile = join(ctx.workDir, `${o.target ?? 'image'}-${i}.digest`);
        const head = multi ? ['manifest', 'push', '--all'] : ['push'];
        return {
          command: 'buildah' as const,
          args: [...head, ...tls, '--digestfile', digestFile, localName, `docker://${ref}`],
          ref,
          digestFile,
        };
      })
    : [];
  return {
    command: 'buildah',
    args,
    platforms: o.platforms,
    localName,
    pushes: o.push ? o.refs : [],
    pushSteps,
  };
}

/** `docker buildx imagetools create` for the index: final tags from per-platform digests. */
export function imagetoolsCreateArgs(
  image: string,
  refs: readonly string[],
  digests: readonly string[],
): string[] {
  return [
    'buildx',
    'imagetools',
    'create',
    ...refs.flatMap((r) => ['--tag', r]),
    ...digests.map((d) => `${image}@${d}`),
  ];
}

/** buildah equivalent of the merge: a local list from remote digests, pushed under each tag. */
export function buildahMergeCommands(options: {
  localName: string;
  image: string;
  refs: readonly string[];
  digests: readonly string[];
  workDir: string;
}): { create: string[]; add: string[][]; push: { args: string[]; ref: string; digestFile: string }[] } {
  const tls = isLoopbackRegistry(registryHostOf(options.image)) ? ['--tls-verify=false'] : [];
  return {
    create: ['manifest', 'create', options.localName],
    add: options.digests.map((d) => [
      'manifest',
      'add',
      ...tls,
      options.localName,
      `docker://${options.image}@${d}`,
    ]),
    push: options.refs.map((ref, i) => {
      const digestFile = join(options.workDir, `merge-${i}.digest`);
      return {
        args: ['manifest', 'push', ...tls, '--digestfile', digestFile, options.localName, `docker://${ref}`],
        ref,
        digestFile,
      };
    }),
  };
}
