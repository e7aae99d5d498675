import { defineConfig } from 'vitest/config';

// Two projects: `unit` is hermetic (no daemons, no network, fast); `itg` starts real components
// (registry, dockerd + buildx, cosign, kubesim + kubectl) on loopback through test/fixtures.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.itg.test.ts', 'node_modules/**'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'itg',
          include: ['test/**/*.itg.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // two cores: keep daemons from starving each other
          maxWorkers: 2,
        },
      },
    ],
  },
});
