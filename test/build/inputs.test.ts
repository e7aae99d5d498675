import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { Inputs, envInputSource, flagInputSource } from '../../src/core/inputs.js';
import { getBuildInputs, registryHostOf } from '../../src/build/inputs.js';

const read = (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  getBuildInputs(new Inputs(flagInputSource(flags)), env);

describe('getBuildInputs', () => {
  it('has honest defaults', () => {
    expect(read({ image: 'r.example/app' })).toEqual({
      mode: 'build',
      builder: 'buildx',
      context: '.',
      file: undefined,
      targets: [],
      image: 'r.example/app',
      username: undefined,
      password: undefined,
      registry: undefined,
      platforms: ['linux/amd64'],
      push: undefined,
      buildArgs: {},
      secrets: {},
      secretEnvs: {},
      secretFiles: {},
      cache: 'registry',
      noCache: false,
      pull: false,
      provenance: false,
      sbom: false,
      latest: false,
      tags: [],
      labels: {},
      digests: [],
    });
  });

  it('reads action inputs (INPUT_*) with list and map syntax', () => {
    const env = {
      INPUT_IMAGE: 'gitea.example.com/acme/app-{target}',
      INPUT_TARGETS: 'api\nworker, admin',
      INPUT_PLATFORMS: 'linux/amd64,linux/arm64',
      INPUT_PUSH: 'false',
      'INPUT_BUILD-ARGS': 'A=1\nB=x=y',
      INPUT_USERNAME: 'ci',
      INPUT_PASSWORD: 'pw',
    };
    const i = getBuildInputs(new Inputs(envInputSource(env)), env);
    expect(i).toMatchObject({
      targets: ['api', 'worker', 'admin'],
      platforms: ['linux/amd64', 'linux/arm64'],
      push: false,
      buildArgs: { A: '1', B: 'x=y' },
      username: 'ci',
      password: 'pw',
    });
  });

  it('takes the CLI password from GANTRY_REGISTRY_PASSWORD', () => {
    expect(read({ image: 'r.example/a', username: 'u' }, { GANTRY_REGISTRY_PASSWORD: 'pw' }).password).toBe(
      'pw',
    );
  });

  it.each([
    [{}, 'image', /--image is required/],
    [{ image: 'r.example/app', targets: 'api,worker' }, 'image', /put \{target\} in it/],
    [{ image: 'R.example/App:latest' }, 'image', /not an image repository/],
    [{ image: 'r.example/a', targets: 'api,api' }, 'targets', /twice/],
    [{ image: 'r.example/a', targets: 'a b' }, 'targets', /not a Dockerfile stage/],
    [{ image: 'r.example/a', platforms: 'amd64' }, 'platforms', /os\/arch/],
    [
      { image: 'r.example/a', mode: 'platform', platforms: 'linux/amd64,linux/arm64' },
      'platforms',
      /exactly one/,
    ],
    [{ image: 'r.example/a', username: 'u' }, 'password', /together/],
    [{ image: 'r.example/a', 'secret-envs': 'tok=NOPE_UNSET' }, 'secret-envs', /NOPE_UNSET/],
    [{ image: 'r.example/a', secrets: 'a=1', 'secret-files': 'a=/f' }, 'secrets', /more than once/],
    [{ image: 'r.example/a', digests: 'sha256:' + 'a'.repeat(64) }, 'digests', /only used with mode: merge/],
    [{ image: 'r.example/a', mode: 'merge', digests: 'sha256:abc' }, 'digests', /sha256:<hex>/],
    [{ image: 'r.example/a', mode: 'merge', push: 'false' }, 'push', /exists to push/],
    [{ image: 'r.example/a', cache: 's3' }, 'cache', /one of: registry, gha, none/],
    [{ image: 'r.example/a', builder: 'kaniko' }, 'builder', /buildx, buildah/],
    [{ image: 'r.example/a', push: 'yes' }, 'push', /not a boolean/],
  ])('rejects %o naming input %s', (flags, input, message) => {
    try {
      read(flags as Record<string, string>);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError);
      expect((e as ConfigurationError).input).toBe(input);
      expect((e as Error).message).toMatch(message);
    }
  });

  it.each([
    ['gitea.example.com/acme/app', 'gitea.example.com'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000'],
    ['localhost/app', 'localhost'],
    ['acme/app', 'docker.io'],
    ['app', 'docker.io'],
  ])('registryHostOf(%s) = %s', (image, host) => {
    expect(registryHostOf(image)).toBe(host);
  });
});
