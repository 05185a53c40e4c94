// Workspace store: the workspace that is open (its folder and name, and the
// files that could not be read), opening another, and the folders opened
// before. The runs (and the other stores) follow a change of workspace
// through the workspace.changed event, whoever opened it: this screen, the
// desktop menu or another window.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { WorkspaceInfo } from '../../../electron/api/labapi'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { useRunsStore } from './runs'

export type WorkspaceProblem = WorkspaceInfo['problems'][number]

export const useWorkspaceStore = defineStore('workspace', () => {
  const runs = useRunsStore()
  const info = shallowRef<WorkspaceInfo | null>(null)
  const recent = ref<string[]>([])
  const error = ref('')
  const notice = ref('')
  let unsubscribe: (() => void)[] = []

  /**
   * Broken files: the workspace's own as it opened (manifest, folders, runs)
   * and the run files the runs store's latest listing could not read, each once.
   */
  const problems = computed<WorkspaceProblem[]>(() => {
    const all = [...(info.value?.problems ?? []), ...runs.problems]
    return all.filter((p, i) => all.findIndex((q) => q.file === p.file && q.problem === p.problem) === i)
  })

  /** Follows workspace.changed (once) and reads the open workspace. */
  async function init(): Promise<void> {
    if (!unsubscribe.length) unsubscribe = [labApi().on('workspace.changed', (next) => (info.value = next))]
    await refresh()
  }

  /** Unsubscribes from events (tests; a page that goes away). */
  function dispose(): void {
    for (const off of unsubscribe) off()
    unsubscribe = []
  }

  async function refresh(): Promise<void> {
    try {
      info.value = await labApi().workspaceInfo({})
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  async function loadRecent(): Promise<void> {
    try {
      recent.value = await labApi().recentWorkspaces({})
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  /** Opens another workspace folder (created if new); the runs follow through workspace.changed. */
  async function open(path: string): Promise<boolean> {
    error.value = ''
    try {
      info.value = await labApi().openWorkspace({ path })
      notice.value = `opened ${info.value.path}`
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  return { info, recent, error, notice, problems, init, dispose, refresh, loadRecent, open }
})
