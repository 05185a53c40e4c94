// Train form store: the Train screen's form (a model, saved or a preset, and
// a TrainSpec checked as it is typed, starting on the preferred backend and
// device) and the templates; starting a run from either hands the records to
// the runs store, which shows the new run live.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { SavedSpecInfo } from '../../../electron/api/labapi'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { DEFAULT_PREFERENCES, type Preferences } from '../../../electron/api/preferences'
import type { RunRecord } from '../../../electron/api/runs'
import type { Template } from '../../../electron/api/template'
import type { TaskKind, TrainSpec } from '../../../electron/api/train-spec'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { defaultTrainSpec, followPreferences, setPath, trainSpecErrors, withTaskKind } from '../runs/train-form'
import { unavailableBackends } from '../runs/backend-availability'
import { startedNotice } from '../runs/started-notice'
import { useEngineStore } from './engine'
import { useRunsStore } from './runs'

export interface ModelChoice {
  source: 'saved' | 'preset'
  /** A saved spec's name, or a preset's id. */
  name: string
}

const PICK_A_MODEL = 'pick a model first (a saved spec or a preset)'
const FIX_MARKED = 'fix the marked fields before starting'

export const useTrainFormStore = defineStore('train-form', () => {
  const runs = useRunsStore()
  const templates = shallowRef<Template[]>([])
  const savedSpecs = shallowRef<SavedSpecInfo[]>([])
  const presets = shallowRef<ModelSpec[]>([])
  const modelChoice = ref<ModelChoice | null>(null)
  const model = shallowRef<ModelSpec | null>(null)
  const runName = ref('')
  /** The default backend and device for new runs (getPreferences; the menu or setPreferences change them). */
  const preferences = shallowRef<Preferences>({ ...DEFAULT_PREFERENCES })
  const draft = shallowRef<TrainSpec>(defaultTrainSpec())
  const starting = ref(false)
  const error = ref('')
  /** The runs the form last started (one run, or a template's), followed live for the notice. */
  const startedIds = ref<string[]>([])
  const startedTemplate = ref('')
  /** What became of what the form last started, as it is now: never "started" for a run that only queued, then ended. */
  const notice = computed(() =>
    startedNotice(
      startedIds.value.flatMap((id) => runs.byId.get(id) ?? []),
      startedTemplate.value,
    ),
  )
  let unsubscribe: (() => void)[] = []

  const engine = useEngineStore()
  const unavailable = computed(() => unavailableBackends(engine.info))
  const draftErrors = computed(() => {
    const errors = trainSpecErrors(draft.value, model.value)
    const why = unavailable.value[draft.value.backend]
    return why ? [...errors, { path: 'backend', message: `${draft.value.backend} cannot run here: ${why}` }] : errors
  })
  const draftErrorAt = computed(() => new Map(draftErrors.value.map((e) => [e.path, e.message])))
  const canStart = computed(() => model.value !== null && draftErrors.value.length === 0 && runName.value.trim().length > 0 && !starting.value)
  // A warning whose cause has ended goes with it (no red line about fields already fixed).
  watch([draftErrors, model], () => {
    if ((error.value === FIX_MARKED && !draftErrors.value.length) || (error.value === PICK_A_MODEL && model.value)) error.value = ''
  })

  /** The workspace the saved specs are from; another one drops a saved model (it is not this workspace's). */
  let workspacePath: string | undefined

  /** Follows the preferences and the workspace (once) and lists the templates, saved specs and presets. */
  async function init(): Promise<void> {
    if (!unsubscribe.length)
      unsubscribe = [
        labApi().on('preferences.changed', ({ preferences: p }) => applyPreferences(p)),
        labApi().on('workspace.changed', (info) => {
          if (workspacePath !== undefined && info.path !== workspacePath) forgetWorkspace()
          workspacePath = info.path
          void loadChoices()
        }),
      ]
    await loadChoices()
  }

  /**
   * Another workspace opened: its saved specs are not the last one's, so a
   * saved model chosen there is dropped (Start stays disabled until a model
   * of this workspace is chosen; loadChoices picks its first), and so is the
   * notice about runs started there. A preset stays chosen.
   */
  function forgetWorkspace(): void {
    savedSpecs.value = []
    startedIds.value = []
    startedTemplate.value = ''
    if (modelChoice.value?.source !== 'saved') return
    if (runName.value === model.value?.name) runName.value = ''
    modelChoice.value = null
    model.value = null
  }

  /** Unsubscribes from events (tests; a page that goes away). */
  function dispose(): void {
    for (const off of unsubscribe) off()
    unsubscribe = []
  }

  async function loadChoices(): Promise<void> {
    try {
      const [t, s, p, prefs, info] = await Promise.all([
        labApi().listTemplates({}),
        labApi().listModelSpecs({}),
        labApi().listPresets({}),
        labApi().getPreferences({}),
        labApi().workspaceInfo({}),
      ])
      // Another workspace opened while this page did not hear of it (a lost connection): its saved model goes.
      if (workspacePath !== undefined && info.path !== workspacePath) forgetWorkspace()
      workspacePath = info.path
      applyPreferences(prefs.preferences)
      templates.value = t
      savedSpecs.value = s
      presets.value = p
      if (!modelChoice.value) {
        const first: ModelChoice | null = s[0]
          ? { source: 'saved', name: s[0].name }
          : p.some((x) => x.preset === 'gla')
            ? { source: 'preset', name: 'gla' }
            : null
        if (first) await chooseModel(first)
      }
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  async function chooseModel(choice: ModelChoice): Promise<boolean> {
    error.value = ''
    const inWorkspace = workspacePath
    try {
      const spec =
        choice.source === 'saved'
          ? await labApi().loadModelSpec({ name: choice.name })
          : (presets.value.find((p) => p.preset === choice.name) ??
            (() => {
              throw new Error(`no preset '${choice.name}'; valid: ${presets.value.map((p) => p.preset).join(', ')}`)
            })())
      // A saved spec read from a workspace that was left meanwhile is not this workspace's model.
      if (choice.source === 'saved' && workspacePath !== inWorkspace) return false
      const previousDefault = model.value?.name
      modelChoice.value = choice
      model.value = spec
      if (!runName.value || runName.value === previousDefault) runName.value = spec.name
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  function setDraftField(path: string, value: unknown): void {
    draft.value = setPath(draft.value, path, value)
  }

  function setTaskKind(kind: TaskKind): void {
    draft.value = withTaskKind(draft.value, kind)
  }

  function resetDraft(): void {
    draft.value = defaultTrainSpec(preferences.value)
  }

  function applyPreferences(next: Preferences): void {
    draft.value = followPreferences(draft.value, preferences.value, next)
    preferences.value = next
  }

  /** Starts the form's run and watches it; nothing is sent while the form is invalid. */
  async function startFromForm(): Promise<RunRecord | null> {
    error.value = ''
    if (!model.value) {
      error.value = PICK_A_MODEL
      return null
    }
    if (draftErrors.value.length) {
      error.value = FIX_MARKED
      return null
    }
    const modelSpec = model.value
    starting.value = true
    try {
      const run = (
        await runs.adopt(async () => [
          await labApi().startRun({
            name: runName.value.trim(),
            modelSpec,
            trainSpec: draft.value,
            specName: modelChoice.value?.source === 'saved' ? modelChoice.value.name : undefined,
          }),
        ])
      )[0]!
      runs.setLive(run.id)
      startedIds.value = [run.id]
      startedTemplate.value = ''
      return run
    } catch (err) {
      error.value = messageOf(err)
      return null
    } finally {
      starting.value = false
    }
  }

  /** Starts a template's runs (queued run after run); overrides apply to every run. */
  async function startTemplate(id: string, inputs: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): Promise<RunRecord[]> {
    error.value = ''
    starting.value = true
    try {
      const started = await runs.adopt(() => labApi().startTemplate({ id, inputs, overrides }))
      // Watch the first of them, unless a run from before is still training.
      const training = runs.runningId
      if (started[0] && (!training || started.some((r) => r.id === training))) runs.setLive(training ?? started[0].id)
      startedIds.value = started.map((r) => r.id)
      startedTemplate.value = id
      return started
    } catch (err) {
      error.value = messageOf(err)
      return []
    } finally {
      starting.value = false
    }
  }

  return {
    templates,
    savedSpecs,
    presets,
    modelChoice,
    model,
    runName,
    preferences,
    draft,
    starting,
    error,
    notice,
    draftErrors,
    draftErrorAt,
    unavailable,
    canStart,
    init,
    dispose,
    loadChoices,
    chooseModel,
    setDraftField,
    setTaskKind,
    resetDraft,
    startFromForm,
    startTemplate,
  }
})
