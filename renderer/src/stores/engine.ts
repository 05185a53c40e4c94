// Engine store: what the engine is (backends, devices, ops) and the demo
// forward run shown on the Engine screen.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { DemoForwardParams, DemoForwardResult, EngineInfo, LabEvents } from '../../../electron/api/labapi'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'

export const DEFAULT_DEMO: DemoForwardParams = { seqLen: 512, heads: 4, dk: 32, dv: 32, seed: 1 }

export const useEngineStore = defineStore('engine', () => {
  const info = ref<EngineInfo | null>(null)
  const infoError = ref('')
  const loadingInfo = ref(false)
  const demo = ref<DemoForwardResult | null>(null)
  const demoParams = ref<DemoForwardParams>({ ...DEFAULT_DEMO })
  const demoError = ref('')
  const runningDemo = ref(false)
  const engineStatus = ref<LabEvents['engine.status'] | null>(null)

  async function loadInfo(): Promise<void> {
    loadingInfo.value = true
    infoError.value = ''
    try {
      info.value = await labApi().engineInfo({})
    } catch (err) {
      infoError.value = messageOf(err)
    } finally {
      loadingInfo.value = false
    }
  }

  /** Reloads the info without the loading state (the Engine screen's live memory). */
  async function refreshInfo(): Promise<void> {
    try {
      info.value = await labApi().engineInfo({})
    } catch (err) {
      infoError.value = messageOf(err)
    }
  }

  async function runDemo(params: DemoForwardParams = demoParams.value): Promise<void> {
    runningDemo.value = true
    demoError.value = ''
    try {
      demo.value = await labApi().demoForward({ ...params })
    } catch (err) {
      demoError.value = messageOf(err)
    } finally {
      runningDemo.value = false
    }
  }

  /** Follows the engine process's state; returns the unsubscribe function. */
  function watchEngine(): () => void {
    return labApi().on('engine.status', (s) => {
      engineStatus.value = s
    })
  }

  return { info, infoError, loadingInfo, demo, demoParams, demoError, runningDemo, engineStatus, loadInfo, refreshInfo, runDemo, watchEngine }
})
