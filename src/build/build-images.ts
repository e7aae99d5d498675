/**
 * build-multiarch, the library call behind the action and `gantry build`: reads the commit, detects
 * what the builder can do, plans (plan.ts), logs in through a temporary DOCKER_CONFIG, runs every
 * build (transient push failures retried, a broken build failing at once with its last log lines
 * and the target's name), merges per-platform images into an index where needed, and finally
 * resolves every pushed tag in the registry: each must point at the digest being reported.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { formatDuration } from '../core/durations.js';
import { GantryError, errorMessage } from '../core/errors.js';
import { exec as realExec, formatCommand, type ExecOptions, type ExecResult } from '../core/exec.js';
import type { Logger } from '../core/logging.js';
import { retry } from '../core/retry.js';
import { createTemporaryDockerConfig, registryLogin, type TemporaryDockerConfig } from './docker-config.js';
import { classifyBuildFailure, lastLines } from './failure.js';
import { readGitContext, type GitContext, type GitRunner } from './git-context.js';
import type { BuildInputs } from './inputs.js';
import {
  buildahMergeCommands,
  imagetoolsCreateArgs,
  toPlan,
  type BuildPlan,
  type BuildStep,
  type Capabilities,
  type CommandLine,
  type TargetPlan,
} from './plan.js';
import { defaultRegistryReader, type RegistryReader } from './registry-reader.js';
import { platformTag } from './tags.js';

/** One entry of the `images` output. */
export interface ImageResult {
  target: string;
  image: string;
  /** Manifest (or index) digest in the registry; undefined when nothing was pushed. */
  digest: string | undefined;
  /** image@digest, the reference to deploy. */
  ref: string | undefined;
  tags: string[];
  /** platform → manifest digest (for an unpushed build: the local image id). */
  platforms: Record<string, string>;
  pushed: boolean;
  /** Uncompressed image size where the builder reports it (sum over platforms). */
  sizeBytes: number | undefined;
  durationMs: number;
}

export interface BuildResult {
  images: ImageResult[];
  git: GitContext;
  plan: BuildPlan;
  warnings: string[];
}

export type ExecFn = (command: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface BuildDependencies {
  logger: Logger;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  exec?: ExecFn;
  git?: GitRunner;
  clock?: Clock;
  /** Reads manifests back from the registry; default: the OCI client with the build's credentials. */
  registryReader?: () => RegistryReader;
  /** Attempts per push (default 4) and first back-off (default 1 s). */
  pushAttempts?: number;
  retryDelayMs?: number;
}

/** A build command that failed; `kind` says whether another attempt can help. */
export class BuildStepError extends GantryError<'check-failed' | 'command-failed'> {
  constructor(
    readonly kind: 'transient' | 'build' | 'other',
    message: string,
    readonly result: ExecResult,
  ) {
    super(kind === 'build' ? 'check-failed' : 'command-failed', message);
    this.name = 'BuildStepError';
  }
}

/** Detects the buildx driver (`docker buildx inspect`) or buildah's abilities. */
export async function detectCapabilities(
  builder: BuildInputs['builder'],
  execFn: ExecFn,
  options: ExecOptions,
  env: NodeJS.ProcessEnv,
): Promise<Capabilities> {
  const ghaCache = Boolean(env.ACTIONS_CACHE_URL && env.ACTIONS_RUNTIME_TOKEN);
  if (builder === 'buildah') return { multiPlatform: true, cacheExport: false, ghaCache, driver: 'buildah' };
  const r = await execFn('docker', ['buildx', 'inspect'], options);
  if (r.exitCode !== 0) {
    throw new GantryError('infrastructure', `docker buildx is not usable: ${lastLines(r.stderr, 5)}`, {
      hint: 'install the buildx plugin and start dockerd (scripts/setup-system does both), or use builder: buildah',
    });
  }
  const driver = /^Driver:\s*(\S+)/m.exec(r.stdout)?.[1] ?? 'docker';
  // the docker driver: single platform per call, no push-by-digest, no cache export
  const capable = driver !== 'docker';
  return { multiPlatform: capable, cacheExport: capable, ghaCache, driver };
}

/** Runs build-multiarch. Throws coded errors; returns what was built and pushed. */
export async function buildImages(inputs: BuildInputs, deps: BuildDependencies): Promise<BuildResult> {
  const { logger } = deps;
  const execFn = deps.exec ?? realExec;
  for (const v of [inputs.password, ...Object.values(inputs.secrets)]) logger.mask(v);
  for (const name of Object.values(inputs.secretEnvs)) logger.mask(deps.env[name]);

  const workDir = await mkdtemp(join(tmpdir(), 'gantry-build-'));
  let config: TemporaryDockerConfig | undefined;
  const cleanups: (() => Promise<unknown>)[] = [() => rm(workDir, { recursive: true, force: true })];
  try {
    const baseEnv: NodeJS.ProcessEnv = { ...deps.env };
    if (inputs.username !== undefined && inputs.password !== undefined) {
      config = await createTemporaryDockerConfig(deps.env);
      cleanups.push(() => config?.dispose() ?? Promise.resolve());
      Object.assign(baseEnv, config.env);
    }
    const baseExec: ExecOptions = { env: baseEnv, signal: deps.signal, masker: logger.masker };
    // independent look-ups, run side by side: they are most of gantry's own start-up time
    const [git, capabilities] = await Promise.all([
      readGitContext({ env: deps.env, cwd: inputs.context, git: deps.git }),
      detectCapabilities(inputs.builder, execFn, baseExec, deps.env),
    ]);
    const plan = toPlan(inputs, {
      git,
      workDir,
      capabilities,
      buildahIsolation: deps.env.BUILDAH_ISOLATION,
    });
    logger.info(
      `${inputs.mode} ${plan.targets.map((t) => t.name).join(', ')} for ${inputs.platforms.join(', ')} with ${capabilities.driver ?? inputs.builder}` +
        `${plan.push ? `, pushing tags ${plan.targets[0]?.tags.join(', ')}` : ' (no push)'} — commit ${git.sha.slice(0, 12)}`,
    );
    for (const w of plan.warnings) logger.warning(w);
    if (config && inputs.username !== undefined && inputs.password !== undefined) {
      await registryLogin({
        builder: inputs.builder,
        registry: plan.registry,
        username: inputs.username,
        password: inputs.password,
        config,
        exec: baseExec,
        logger,
        run: execFn,
      });
    }
    for (const f of plan.secretFiles) {
      await mkdir(dirname(f.path), { recursive: true, mode: 0o700 });
      await writeFile(f.path, 'value' in f ? f.value : (deps.env[f.env] ?? ''), { mode: 0o600 });
    }
    const runExec: ExecOptions = { ...baseExec, env: { ...baseEnv, ...plan.secretEnv } };
    const login =
      inputs.username !== undefined && inputs.password !== undefined
        ? { registry: plan.registry, credentials: { username: inputs.username, password: inputs.password } }
        : undefined;
    const reader =
      deps.registryReader?.() ?? defaultRegistryReader({ env: deps.env, logger, signal: deps.signal, login });
    cleanups.push(async () => reader.close?.());
    const runner = new StepRunner(execFn, runExec, logger, deps);
    const images: ImageResult[] = [];
    for (const target of plan.targets) {
      images.push(
        await logger.group(`${inputs.mode} ${target.name}`, () =>
          buildTarget(target, plan, inputs, runner, reader, { git, workDir, logger, cleanups }),
        ),
      );
    }
    return { images, git, plan, warnings: plan.warnings };
  } finally {
    for (const c of cleanups.reverse())
      await c().catch((e: unknown) => logger.debug(`cleanup: ${errorMessage(e)}`));
  }
}

interface TargetContext {
  git: GitContext;
  workDir: string;
  logger: Logger;
  cleanups: (() => Promise<unknown>)[];
}

async function buildTarget(
  target: TargetPlan,
  plan: BuildPlan,
  inputs: BuildInputs,
  runner: StepRunner,
  reader: RegistryReader,
  tctx: TargetContext,
): Promise<ImageResult> {
  const started = performance.now();
  const { logger } = tctx;
  const platforms: Record<string, string> = {};
  /** ref → digest we claim it has; every entry is checked against the registry at the end. */
  const claims = new Map<string, string>();
  let digest: string | undefined;
  let sizeBytes: number | undefined;

  for (const step of target.builds) {
    const what = `target ${target.name} (${step.platforms.join(', ')})`;
    if (step.command === 'buildah' && step.localName) {
      const name = step.localName;
      tctx.cleanups.push(() =>
        runner.quiet('buildah', [
          step.platforms.length > 1 ? 'manifest' : 'rmi',
          ...(step.platforms.length > 1 ? ['rm'] : []),
          name,
        ]),
      );
    }
    await runner.run(step, what);
    if (step.command === 'docker') {
      const meta = await readMetadata(step, what);
      const d = meta['containerimage.digest'];
      if (!d)
        throw new GantryError(
          'infrastructure',
          `${what}: buildx wrote no containerimage.digest to ${step.metadataFile}`,
        );
      const size = await runner.dockerImageSize(meta['containerimage.config.digest'] ?? d);
      if (size !== undefined) sizeBytes = (sizeBytes ?? 0) + size;
      if (step.platforms.length === 1 && step.platforms[0]) platforms[step.platforms[0]] = d;
      for (const ref of step.pushes) claims.set(ref, d);
      if (target.builds.length === 1) digest = d;
    } else {
      sizeBytes = await runner.buildahImageSize(step.localName ?? '');
      for (const p of step.pushSteps) {
        await runner.run(p, `${what}: push ${p.ref}`);
        const d = (await readFile(p.digestFile, 'utf8')).trim();
        claims.set(p.ref, d);
        digest ??= d;
        if (d !== digest) {
          throw new GantryError(
            'check-failed',
            `${what}: buildah pushed ${p.ref} as ${d}, but the first tag as ${digest}`,
          );
        }
      }
      if (!plan.push) digest = undefined;
    }
  }

  if (target.merge) {
    let sources: string[];
    if (plan.mode === 'merge') {
      sources = await mergeSources(target, inputs, reader, tctx.git);
      for (const [i, p] of target.merge.platforms.entries())
        if (sources[i] && !inputs.digests.length) platforms[p] = sources[i];
    } else {
      sources = target.merge.platforms.map((p) => platforms[p] ?? '');
    }
    digest = await runner.merge(target, sources, plan, tctx.workDir);
    for (const ref of target.merge.refs) claims.set(ref, digest);
  }

  if (plan.push) {
    if (digest === undefined)
      throw new GantryError('infrastructure', `target ${target.name}: no digest was reported for the push`);
    // Multi-platform results built in one call (buildah, container drivers) and merges list their
    // platforms in the registry's index: read them back from there.
    if (target.platforms.length > 1 || target.merge || target.builds.some((b) => b.command === 'buildah')) {
      const info = await reader.inspect(`${target.image}@${digest}`);
      if (Object.keys(info.platforms).length > 0) {
        for (const k of Object.keys(platforms)) delete platforms[k];
        Object.assign(platforms, info.platforms);
      } else if (target.platforms.length === 1 && target.platforms[0])
        platforms[target.platforms[0]] = digest;
    }
    await verifyClaims(claims, reader, target.name, logger);
    const missing = target.platforms.filter((p) => !platforms[p]);
    if (missing.length > 0) {
      throw new GantryError(
        'check-failed',
        `target ${target.name}: the pushed image ${target.image}@${digest} has no ${missing.join(', ')} manifest`,
      );
    }
  }
  const durationMs = performance.now() - started;
  const tags = plan.mode === 'platform' ? [platformTag(tctx.git, target.platforms[0] ?? '')] : target.tags;
  logger.info(
    plan.push
      ? `${target.name}: ${target.image}@${digest} — ${tags.length} tag(s) verified in the registry (${formatDuration(durationMs)})`
      : `${target.name}: built ${Object.keys(platforms).join(', ') || target.platforms.join(', ')}, not pushed${sizeBytes !== undefined ? `, ${formatBytes(sizeBytes)}` : ''} (${formatDuration(durationMs)})`,
  );
  return {
    target: target.name,
    image: target.image,
    digest: plan.push ? digest : undefined,
    ref: plan.push && digest ? `${target.image}@${digest}` : undefined,
    tags: plan.push ? tags : [],
    platforms,
    pushed: plan.push,
    sizeBytes,
    durationMs: Math.round(durationMs),
  };
}

/** Every pushed tag must resolve, in the registry, to the digest the builder reported. */
async function verifyClaims(
  claims: Map<string, string>,
  reader: RegistryReader,
  target: string,
  logger: Logger,
): Promise<void> {
  const wrong: string[] = [];
  const checks = [...claims].map(async ([ref, expected]) => {
    const actual = (await reader.inspect(ref)).digest;
    if (actual !== expected) wrong.push(`${ref} resolves to ${actual}, but the build reported ${expected}`);
    else logger.debug(`verified ${ref} → ${actual}`);
  });
  await Promise.all(checks);
  wrong.sort();
  if (wrong.length > 0) {
    throw new GantryError(
      'check-failed',
      `target ${target}: pushed tags do not match the reported digest:\n  ${wrong.join('\n  ')}`,
      {
        hint: 'another job may be pushing the same tags concurrently; rerun, or make the tags unique',
      },
    );
  }
}

/** merge mode: the per-platform manifests to combine, in platform order (or as listed in `digests`). */
async function mergeSources(
  target: TargetPlan,
  inputs: BuildInputs,
  reader: RegistryReader,
  git: GitContext,
): Promise<string[]> {
  if (inputs.digests.length > 0) {
    const mine = inputs.digests.flatMap((item) => {
      const at = item.indexOf('@');
      if (at !== -1) return item.slice(0, at) === target.image ? [item.slice(at + 1)] : [];
      const eq = item.indexOf('=');
      if (eq !== -1) return item.slice(0, eq) === target.name ? [item.slice(eq + 1)] : [];
      return inputs.targets.length <= 1 ? [item] : [];
    });
    if (mine.length === 0) {
      throw new GantryError(
        'configuration',
        `input "digests" has no digest for target ${target.name} (${target.image})`,
        {
          hint: 'write <target>=sha256:… or <repo>@sha256:… when there are several targets',
        },
      );
    }
    return mine;
  }
  const out: string[] = [];
  for (const p of target.merge?.platforms ?? []) {
    const ref = `${target.image}:${platformTag(git, p)}`;
    try {
      out.push((await reader.inspect(ref)).digest);
    } catch (e) {
      throw new GantryError(
        'not-found',
        `target ${target.name}: ${ref} (the ${p} build of this commit) is not in the registry`,
        {
          cause: e,
          hint: `run build-multiarch with mode: platform and platforms: ${p} for this commit first, or list the digests`,
        },
      );
    }
  }
  return out;
}

async function readMetadata(step: BuildStep, what: string): Promise<Record<string, string | undefined>> {
  try {
    return JSON.parse(await readFile(step.metadataFile ?? '', 'utf8')) as Record<string, string | undefined>;
  } catch (e) {
    throw new GantryError(
      'infrastructure',
      `${what}: cannot read buildx metadata ${step.metadataFile}: ${errorMessage(e)}`,
    );
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Runs plan commands: build logs streamed, failures classified, transient ones retried. */
class StepRunner {
  constructor(
    private readonly execFn: ExecFn,
    private readonly options: ExecOptions,
    private readonly logger: Logger,
    private readonly deps: BuildDependencies,
  ) {}

  async run(cmd: CommandLine, what: string): Promise<ExecResult> {
    return retry(
      async (attempt) => {
        if (attempt > 1) this.logger.info(`${what}: attempt ${attempt}`);
        this.logger.debug(formatCommand(cmd.command, cmd.args, this.logger.masker));
        const r = await this.execFn(cmd.command, cmd.args, {
          ...this.options,
          onLine: (line) => {
            if (line.trim() !== '') this.logger.info(line);
          },
        });
        if (r.exitCode === 0) return r;
        if (this.deps.signal?.aborted) throw new GantryError('cancelled', `${what}: cancelled`);
        const log = `${r.stdout}\n${r.stderr}`;
        const kind = classifyBuildFailure(log);
        const head =
          kind === 'build' ? 'build failed' : kind === 'transient' ? 'push failed (transient)' : 'failed';
        throw new BuildStepError(
          kind,
          `${what}: ${head} (exit ${r.exitCode}); last lines of the log:\n${lastLines(log, 20)}`,
          r,
        );
      },
      {
        what,
        retryable: (e) => e instanceof BuildStepError && e.kind === 'transient',
        maxAttempts: this.deps.pushAttempts ?? 4,
        initialDelayMs: this.deps.retryDelayMs ?? 1000,
        clock: this.deps.clock ?? systemClock,
        signal: this.deps.signal,
        onRetry: ({ attempt, delayMs, error }) =>
          this.logger.warning(
            `${what}: transient failure on attempt ${attempt}, retrying in ${formatDuration(delayMs)}: ${lastLines(errorMessage(error), 1)}`,
          ),
      },
    );
  }

  /** Best-effort command (cleanup): never throws. */
  async quiet(command: string, args: string[]): Promise<void> {
    await this.execFn(command, args, this.options).catch(() => undefined);
  }

  async dockerImageSize(id: string): Promise<number | undefined> {
    const r = await this.execFn(
      'docker',
      ['image', 'inspect', '--format', '{{.Size}}', id],
      this.options,
    ).catch(() => undefined);
    const n = r?.exitCode === 0 ? Number(r.stdout.trim()) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }

  async buildahImageSize(name: string): Promise<number | undefined> {
    const r = await this.execFn(
      'buildah',
      ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', name],
      this.options,
    ).catch(() => undefined);
    if (r?.exitCode !== 0) return undefined; // a manifest list has no single size
    const images = await this.execFn('buildah', ['images', '--json', name], this.options).catch(
      () => undefined,
    );
    try {
      const list = JSON.parse(images?.stdout ?? '[]') as { size?: number }[];
      return list[0]?.size;
    } catch {
      return undefined;
    }
  }

  /** Creates the index from per-platform digests and returns its digest as the tool reported it. */
  async merge(target: TargetPlan, sources: string[], plan: BuildPlan, workDir: string): Promise<string> {
    const merge = target.merge;
    if (!merge) throw new Error('no merge step');
    const what = `target ${target.name}: index of ${merge.platforms.join(', ')}`;
    if (plan.builder === 'buildah') {
      const localName = `localhost/gantry-merge/${target.name}:${randomUUID().slice(0, 8)}`;
      const cmds = buildahMergeCommands({
        localName,
        image: target.image,
        refs: merge.refs,
        digests: sources,
        workDir,
      });
      try {
        await this.run({ command: 'buildah', args: cmds.create }, what);
        for (const add of cmds.add) await this.run({ command: 'buildah', args: add }, what);
        let digest: string | undefined;
        for (const p of cmds.push) {
          await this.run({ command: 'buildah', args: p.args }, `${what}: push ${p.ref}`);
          const d = (await readFile(p.digestFile, 'utf8')).trim();
          if (digest !== undefined && d !== digest)
            throw new GantryError('check-failed', `${what}: ${p.ref} pushed as ${d}, not ${digest}`);
          digest = d;
        }
        if (!digest) throw new GantryError('infrastructure', `${what}: no tags to push`);
        return digest;
      } finally {
        await this.quiet('buildah', ['manifest', 'rm', localName]);
      }
    }
    const r = await this.run(
      { command: 'docker', args: imagetoolsCreateArgs(target.image, merge.refs, sources) },
      what,
    );
    // imagetools create prints "pushing sha256:<index digest> to <ref>" once per tag
    const pushed = [...`${r.stdout}\n${r.stderr}`.matchAll(/pushing (sha256:[0-9a-f]{64}) to (\S+)/g)];
    const digests = new Set(pushed.map((m) => m[1]));
    const [digest] = digests;
    if (digests.size !== 1 || !digest) {
      throw new GantryError(
        'infrastructure',
        `${what}: could not read the index digest from imagetools create (found ${digests.size})`,
      );
    }
    return digest;
  }
}
