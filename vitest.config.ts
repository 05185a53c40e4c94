// Three suites: unit (pure TypeScript, fast), node (the real addon, engine
// processes, the server, real files), e2e (the built app in real Chromium).
import { availableParallelism } from 'node:os'
import vue from '@vitejs/plugin-vue'
import { configDefaults, defineConfig } from 'vitest/config'

// The node suite's WebGPU files (lavapipe, on a CI machine's CPU) run as a project of their own,
// one file at a time, after the other node files (scripts/test.mjs). Beside those files' engine
// processes on two cores, lavapipe's dispatches slowed by up to 50x (a WebGPU test of 4.5 s alone
// timed out at 240 s in CI, 2026-12-02); the same files alone, two at a time or beside pure CPU
// load ran at their normal speed.
const WEBGPU_FILES = ['tests/node/**/*webgpu*.test.ts']

export default defineConfig({
  plugins: [vue()],
  test: {
    // Vitest's default, one fewer worker than cores, runs every file in series on CI's two cores,
    // where the node suite's files spend much of their time waiting on engine processes and disk.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['tests/node/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...WEBGPU_FILES],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: 'node-webgpu', include: WEBGPU_FILES, environment: 'node', testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
