// Profiles: start one for a saved spec or a preset, follow its progress,
// load results, and pick two to compare side by side.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { ProfileRecord, RunsList } from '../../../electron/api/labapi'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { PROFILE_REPEATS, type ProfileResult, type ProfileSettings } from '../../../electron/api/profile'
import { checkedProfile } from '../../../electron/api/profile-checks'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { competingRunsWarning } from '../profile/competing-runs'

export const QUICK_SETTINGS: Partial<ProfileSettings> = {
  batchSize: 2,
  seqLen: 256,
  warmup: 1,
  repeats: PROFILE_REPEATS,
  sweepLengths: [256, 512, 1024, 2048, 4096],
  sweepBudgetSeconds: 30,
}

export const useProfilesStore = defineStore('profiles', () => {
  const profiles = ref<ProfileRecord[]>([])
  const results = shallowRef<Record<string, ProfileResult>>({})
  const progress = ref<Record<string, { message: string; fraction: number }>>({})
  const selected = ref<string[]>([])
  const error = ref('')
  /** The workspace's runs as the job runner records them: which trained while a profile measured. */
  const runs = shallowRef<Pick<RunsList, 'runs' | 'runningId'>>({ runs: [], runningId: null })
  let unsubscribe: (() => void)[] = []
  /** The workspace the profiles are from (a workspace.changed for the same path is a resync). */
  let workspacePath: string | undefined

  /** Profiles under way: running, or queued behind other profiles and inspections. */
  const running = computed(() => profiles.value.filter((p) => p.status === 'running' || p.status === 'queued'))

  async function refresh(): Promise<void> {
    profiles.value = await labApi().listProfiles({})
    await refreshRuns()
  }

  async function refreshRuns(): Promise<void> {
    try {
      const list = await labApi().listRuns({})
      runs.value = { runs: list.runs, runningId: list.runningId }
    } catch {
      // no runs to compare with: no warning, the profiles still list
    }
  }

  /** Why a profile's times are suspect because training runs overlapped it, or undefined. */
  function runWarning(id: string): string | undefined {
    const p = profiles.value.find((x) => x.id === id)
    return p ? competingRunsWarning(p, runs.value.runs, runs.value.runningId, Date.now()) : undefined
  }

  async function load(id: string): Promise<ProfileResult | undefined> {
    if (results.value[id]) return results.value[id]
    try {
      // a workspace file: the fields added after the first format are checked here, a malformed one dropped
      const r = checkedProfile(await labApi().getProfile({ id }))
      results.value = { ...results.value, [id]: r }
      return r
    } catch (err) {
      error.value = messageOf(err)
      return undefined
    }
  }

  /** Stops a running profile, or drops a queued one. */
  async function cancel(id: string): Promise<void> {
    error.value = ''
    try {
      await labApi().cancelProfile({ id })
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  /** Shows one profile, or two side by side (a third replaces the oldest choice). */
  async function select(id: string): Promise<void> {
    const next = selected.value.includes(id) ? selected.value.filter((x) => x !== id) : [...selected.value, id].slice(-2)
    selected.value = next
    await Promise.all(next.map(load))
  }

  async function start(spec: ModelSpec, settings: Partial<ProfileSettings>, name?: string): Promise<ProfileRecord | undefined> {
    error.value = ''
    try {
      const record = await labApi().startProfile({ spec, settings, name })
      await refresh()
      return record
    } catch (err) {
      error.value = messageOf(err)
      return undefined
    }
  }

  function watch(): void {
    if (unsubscribe.length) return
    unsubscribe = [
      labApi().on('profile.progress', (p) => {
        progress.value = { ...progress.value, [p.id]: { message: p.message, fraction: p.fraction } }
      }),
      labApi().on('run.status', () => void refreshRuns()),
      labApi().on('profile.status', ({ profile }) => {
        const i = profiles.value.findIndex((p) => p.id === profile.id)
        if (i >= 0) profiles.value.splice(i, 1, profile)
        else profiles.value.unshift(profile)
        if (profile.status === 'done' && !selected.value.includes(profile.id)) void select(profile.id)
      }),
      // Another workspace: its profiles, nothing of the last one's. The same one
      // again is a resync after a dropped connection: list again, keep the selection.
      labApi().on('workspace.changed', (info) => {
        if (info.path !== workspacePath) {
          selected.value = []
          results.value = {}
          progress.value = {}
        }
        workspacePath = info.path
        void refresh().catch((err: Error) => (error.value = err.message))
      }),
    ]
    void labApi()
      .workspaceInfo({})
      .then((info) => (workspacePath ??= info.path))
      .catch(() => undefined)
  }

  function unwatch(): void {
    for (const u of unsubscribe) u()
    unsubscribe = []
  }

  return { profiles, results, progress, selected, error, running, runs, refresh, runWarning, load, select, start, cancel, watch, unwatch }
})
