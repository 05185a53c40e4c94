// One build for every bundle: the Electron main process, the `linea` CLI,
// the engine process and its batch worker (Node, ESM), the preload bridge (CommonJS: sandboxed
// preloads cannot be ES modules) and the renderer (Vue).
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'electron-vite'
import { resolve } from 'node:path'

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      externalizeDeps: true,
      rolldownOptions: {
        input: {
          index: resolve('electron/shell/main.ts'),
          cli: resolve('electron/cli/index.ts'),
          'engine-process': resolve('electron/engine/process.ts'),
          // The training batches' worker thread (engine/tasks/batch-prefetch.ts looks for it beside the engine).
          'batch-worker': resolve('electron/engine/tasks/batch-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rolldownOptions: {
        input: { index: resolve('electron/shell/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'renderer',
    plugins: [vue()],
    build: {
      outDir: resolve('out/renderer'),
      emptyOutDir: true,
      rolldownOptions: { input: resolve('renderer/index.html') },
    },
  },
})
