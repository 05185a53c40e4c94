// The composer's state: the ModelSpec being edited, its history (undo/redo),
// the preset it started from, the selected layers (edited together), the
// hybrid slider's preview, validation by the engine's own schema, estimates
// from the engine, and saving to the workspace.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { ModelEstimate, SavedSpecInfo } from '../../../electron/api/labapi'
import { ModelSpecSchema, type ModelSpec, type Placement } from '../../../electron/api/model-spec'
import { formatPath, validateWith, type SpecError } from '../../../electron/api/validate'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import {
  applyToAll,
  deleteLayer,
  diffAgainstPreset,
  duplicateLayer,
  moveLayer,
  setHybrid,
  setLayerCount,
  setLayerField,
  setLayerKind,
  setModelField,
} from '../../../electron/api/spec-edit'
import { setFieldOn, setKindOn } from '../composer/multi-edit'
import { applyOrder, blockMoveOrder, isIdentity, newIndexOf, shiftOrder } from '../composer/reorder'
import { clampSelection, collapseToFocus, rangeTo, remapSelection, selectSpan, toggleSpan, type LayerSelection } from '../composer/selection'

const HISTORY_LIMIT = 200
export const LAST_SAVED_KEY = 'linea.composer.lastSaved'

/** A spec's name as a saved spec's (file) name: letters, digits, -, _ and spaces. */
export function fileNameOf(specName: string): string {
  return (
    specName
      .replace(/[^A-Za-z0-9 _-]/g, '')
      .trim()
      .slice(0, 100) || 'model'
  )
}

function storage(): Storage | undefined {
  return (globalThis as { localStorage?: Storage }).localStorage
}

export const useComposerStore = defineStore('composer', () => {
  const presets = shallowRef<ModelSpec[]>([])
  // Replaced whole on every edit (the edits are pure), so no deep reactivity.
  const spec = shallowRef<ModelSpec | null>(null)
  const presetId = ref<string | null>(null)
  /** The layers the side panel edits; its focus is "the" selected layer. */
  const selection = ref<LayerSelection>(selectSpan(0))
  /** The focused layer; setting it selects that layer alone. */
  const selected = computed({
    get: () => selection.value.focus,
    set: (i: number) => {
      selection.value = selectSpan(i)
    },
  })
  const selectedIndices = computed(() => selection.value.indices)
  const selectedSet = computed(() => new Set(selection.value.indices))
  /** The ratio the hybrid slider is being dragged over, previewed in the graph until released; null otherwise. */
  const hybridPreview = ref<number | null>(null)
  const past = ref<string[]>([])
  const future = ref<string[]>([])
  const estimate = shallowRef<ModelEstimate | null>(null)
  const estimateError = ref('')
  const contextLength = ref(8192)
  const saved = ref<SavedSpecInfo[]>([])
  const savedName = ref('')
  /**
   * The name Save writes under. It follows the spec's name (so a Gated
   * DeltaNet is not saved over GLA.json) until the user types one, and is the
   * file's name after a load.
   */
  const saveName = ref('')
  let saveNamePinned = false
  /** A save that would overwrite another saved spec, waiting for "Overwrite". */
  const pendingOverwrite = ref<string | null>(null)
  const status = ref('')
  const error = ref('')
  let estimateTimer: ReturnType<typeof setTimeout> | undefined
  let estimateSeq = 0

  const validation = computed(() => (spec.value ? validateWith(ModelSpecSchema, spec.value) : null))
  const errors = computed<SpecError[]>(() => (validation.value && !validation.value.ok ? validation.value.errors : []))
  /** path → message, for marking controls ("layers[2].heads"). */
  const errorAt = computed(() => new Map(errors.value.map((e) => [e.path, e.message])))
  const valid = computed(() => spec.value !== null && errors.value.length === 0)
  const preset = computed(() => presets.value.find((p) => p.preset === presetId.value) ?? null)
  const diff = computed(() => (spec.value && preset.value ? diffAgainstPreset(spec.value, preset.value) : null))
  const canUndo = computed(() => past.value.length > 0)
  const canRedo = computed(() => future.value.length > 0)

  function layerError(index: number, field: string): string | undefined {
    return errorAt.value.get(formatPath(['layers', index, field]))
  }

  /** Replaces the spec, recording the previous one for undo. */
  function commit(next: ModelSpec, record = true): void {
    if (record && spec.value) {
      past.value.push(JSON.stringify(spec.value))
      if (past.value.length > HISTORY_LIMIT) past.value.shift()
      future.value = []
    }
    spec.value = next
    selection.value = clampSelection(selection.value, next.layers.length)
    scheduleEstimate()
  }

  function undo(): void {
    const prev = past.value.pop()
    if (!prev || !spec.value) return
    future.value.push(JSON.stringify(spec.value))
    commit(JSON.parse(prev), false)
  }

  function redo(): void {
    const next = future.value.pop()
    if (!next || !spec.value) return
    past.value.push(JSON.stringify(spec.value))
    commit(JSON.parse(next), false)
  }

  /** Applies a pure edit; one that returns the same spec (nothing to do) records no undo step. */
  const edit = (fn: (s: ModelSpec) => ModelSpec): boolean => {
    if (!spec.value) return false
    const next = fn(spec.value)
    if (next === spec.value) return false
    commit(next)
    return true
  }

  // ---- selection: click selects a block, Ctrl/Cmd toggles, Shift extends from the anchor ----
  const selectLayers = (first: number, last = first) => (selection.value = selectSpan(first, last))
  const toggleLayers = (first: number, last = first) => (selection.value = toggleSpan(selection.value, first, last))
  const selectRangeTo = (first: number, last = first) => (selection.value = rangeTo(selection.value, first, last))
  const collapseSelection = () => (selection.value = collapseToFocus(selection.value))

  /** Reorders the stack and keeps the same layers selected; false when the order is unchanged. */
  function reorder(order: number[] | null, select?: readonly number[]): boolean {
    if (!order || isIdentity(order) || !edit((s) => applyOrder(s, order))) return false
    const at = newIndexOf(order)
    if (select) {
      const moved = select.map((i) => at[i]!).sort((a, b) => a - b)
      const focus = at[select.includes(selection.value.focus) ? selection.value.focus : select[0]!]!
      selection.value = { indices: moved, anchor: moved[0]!, focus }
    } else selection.value = remapSelection(selection.value, at)
    return true
  }

  /** Alt+arrow: the selected layers one step up/left (-1) or down/right (+1), as a block. */
  function moveSelection(delta: -1 | 1): boolean {
    return spec.value ? reorder(shiftOrder(spec.value.layers.length, selection.value.indices, delta)) : false
  }

  /** Drag and drop: `layers` (a folded group, or the selection) into the gap before layer `gap` (n: the end); they end selected. */
  function moveLayersTo(layers: readonly number[], gap: number): boolean {
    return spec.value ? reorder(blockMoveOrder(spec.value.layers.length, layers, gap), layers) : false
  }

  /** Shows what the hybrid slider at `ratio` would place, without changing the spec. */
  function previewHybridRatio(ratio: number): void {
    hybridPreview.value = ratio
  }

  /** Sets the ratio (the slider released or stepped by key) with the spec's placement rule. */
  function applyHybridRatio(ratio: number): void {
    hybridPreview.value = null
    if (!spec.value) return
    const { placement, ratio: now } = spec.value.hybrid
    if (ratio === now) return
    edit((s) => setHybrid(s, ratio, placement))
  }

  async function loadPresets(): Promise<void> {
    presets.value = await labApi().listPresets({})
  }

  function startFromPreset(id: string): void {
    const p = presets.value.find((x) => x.preset === id)
    if (!p) return
    presetId.value = id
    selection.value = selectSpan(0)
    // A new composition: Save follows its name again, and asks before overwriting any saved spec.
    saveNamePinned = false
    savedName.value = ''
    pendingOverwrite.value = null
    commit(structuredClone(p))
    saveName.value = fileNameOf(p.name)
  }

  /** Replaces the spec from the JSON view; invalid JSON changes nothing and says why. */
  function setText(text: string): string {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      return `not valid JSON: ${(err as Error).message}`
    }
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as ModelSpec).layers)) return 'not a ModelSpec: it needs a layers array'
    commit(parsed as ModelSpec)
    return ''
  }

  function scheduleEstimate(): void {
    clearTimeout(estimateTimer)
    estimateTimer = setTimeout(() => void refreshEstimate(), 150)
  }

  async function refreshEstimate(): Promise<void> {
    if (!spec.value || !valid.value) {
      estimate.value = null
      estimateError.value = ''
      return
    }
    const seq = ++estimateSeq
    try {
      const e = await labApi().estimateModel({ spec: spec.value, contextLength: contextLength.value })
      if (seq === estimateSeq) {
        estimate.value = e
        estimateError.value = ''
      }
    } catch (err) {
      if (seq === estimateSeq) estimateError.value = messageOf(err)
    }
  }

  function setContextLength(n: number): void {
    contextLength.value = Math.max(1, Math.round(n))
    scheduleEstimate()
  }

  async function refreshSaved(): Promise<void> {
    saved.value = await labApi().listModelSpecs({})
  }

  watch(
    () => spec.value?.name,
    (name) => {
      if (!saveNamePinned && name !== undefined) saveName.value = fileNameOf(name)
    },
  )

  /** The user typed a name into the box: Save uses it from now on. */
  function setSaveName(name: string): void {
    saveName.value = name
    saveNamePinned = true
    pendingOverwrite.value = null
  }

  /**
   * Saves under `name`. Another saved spec of that name (not the one loaded
   * or last saved here) is overwritten only with `overwrite`: without it the
   * save waits in `pendingOverwrite` for the user to say so.
   */
  async function save(name: string, options: { overwrite?: boolean } = {}): Promise<boolean> {
    error.value = ''
    pendingOverwrite.value = null
    if (!spec.value || !valid.value) {
      error.value = 'fix the marked fields before saving'
      return false
    }
    try {
      await refreshSaved()
      if (!options.overwrite && name !== savedName.value && saved.value.some((s) => s.name === name)) {
        pendingOverwrite.value = name
        status.value = ''
        return false
      }
      await labApi().saveModelSpec({ name, spec: spec.value })
      savedName.value = name
      storage()?.setItem(LAST_SAVED_KEY, name)
      status.value = `saved as ${name}`
      await refreshSaved()
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  async function load(name: string): Promise<boolean> {
    error.value = ''
    try {
      const loaded = await labApi().loadModelSpec({ name })
      presetId.value = loaded.preset ?? null
      savedName.value = name
      saveName.value = name
      saveNamePinned = true
      pendingOverwrite.value = null
      storage()?.setItem(LAST_SAVED_KEY, name)
      selection.value = selectSpan(0)
      commit(loaded)
      status.value = `loaded ${name}`
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  /** First visit: presets, saved specs, and the last saved spec (or the GLA preset). */
  // ---- the draft: unsaved edits kept in the workspace (drafts/composer.json) ----
  let draftTimer: ReturnType<typeof setTimeout> | undefined
  let draftReady = false // nothing is written before init has restored (or declined) the last draft
  /** When the draft was last written (ms since the epoch); null before the first write. */
  const draftSavedMs = ref<number | null>(null)

  let draftDueMs = 0 // when the pending write must happen at the latest (a burst of edits postpones it 1 s at most)

  function scheduleDraftSave(): void {
    if (!draftReady || !spec.value) return
    clearTimeout(draftTimer)
    const now = Date.now()
    if (!draftTimer) draftDueMs = now + 1000
    draftTimer = setTimeout(() => void saveDraft(), Math.max(0, Math.min(300, draftDueMs - now)))
  }

  /** Writes the draft now if a write is pending (the page is being hidden or closed). */
  function flushDraft(): void {
    if (draftTimer) void saveDraft()
  }

  async function saveDraft(): Promise<void> {
    clearTimeout(draftTimer)
    draftTimer = undefined
    if (!spec.value) return
    try {
      const r = await labApi().saveComposerDraft({
        spec: spec.value as unknown as Record<string, unknown>,
        presetId: presetId.value,
        savedName: savedName.value,
      })
      draftSavedMs.value = r.savedMs
    } catch (err) {
      // A read-only workspace keeps no draft; say so once, where the composer shows errors.
      error.value = `the unsaved edits cannot be kept in the workspace: ${messageOf(err)}`
    }
  }

  watch([spec, presetId, savedName], scheduleDraftSave)

  /** The workspace's draft, when it holds a spec the composer can show (layers a list of objects). */
  async function restoreDraft(): Promise<boolean> {
    const draft = await labApi().loadComposerDraft({})
    const layers = draft?.spec.layers
    if (!draft || !Array.isArray(layers) || !layers.length || !layers.every((l) => l !== null && typeof l === 'object')) return false
    presetId.value = draft.presetId
    savedName.value = draft.savedName
    saveNamePinned = draft.savedName !== ''
    selection.value = selectSpan(0)
    commit(draft.spec as unknown as ModelSpec, false)
    saveName.value = draft.savedName || fileNameOf(String(draft.spec.name ?? ''))
    status.value = 'restored your unsaved edits'
    return true
  }

  async function init(): Promise<void> {
    if (spec.value) return
    await Promise.all([loadPresets(), refreshSaved()])
    try {
      if (await restoreDraft()) return
    } finally {
      draftReady = true
    }
    const last = storage()?.getItem(LAST_SAVED_KEY)
    if (last && saved.value.some((s) => s.name === last) && (await load(last))) return
    startFromPreset(presets.value.some((p) => p.preset === 'gla') ? 'gla' : (presets.value[0]?.preset ?? ''))
  }

  return {
    presets,
    spec,
    presetId,
    preset,
    selected,
    selection,
    selectedIndices,
    selectedSet,
    selectLayers,
    toggleLayers,
    selectRangeTo,
    collapseSelection,
    moveSelection,
    moveLayersTo,
    hybridPreview,
    previewHybridRatio,
    applyHybridRatio,
    estimate,
    estimateError,
    contextLength,
    saved,
    savedName,
    saveName,
    setSaveName,
    pendingOverwrite,
    draftSavedMs,
    flushDraft,
    status,
    error,
    errors,
    errorAt,
    valid,
    diff,
    canUndo,
    canRedo,
    layerError,
    init,
    loadPresets,
    startFromPreset,
    setText,
    undo,
    redo,
    refreshEstimate,
    setContextLength,
    refreshSaved,
    save,
    load,
    setModelField: <K extends Parameters<typeof setModelField>[1]>(field: K, value: ModelSpec[K]) => edit((s) => setModelField(s, field, value)),
    setLayerCount: (n: number) => edit((s) => setLayerCount(s, n)),
    setHybrid: (ratio: number, placement: Placement) => edit((s) => setHybrid(s, ratio, placement)),
    setLayerField: (index: number, field: string, value: unknown) => edit((s) => setLayerField(s, index, field, value)),
    setLayerKind: (index: number, kind: 'linear' | 'softmax') => edit((s) => setLayerKind(s, index, kind)),
    /** One change to every selected layer, as one undo step. */
    setSelectedField: (field: string, value: unknown) => edit((s) => setFieldOn(s, selection.value.indices, field, value)),
    setSelectedKind: (kind: 'linear' | 'softmax') => edit((s) => setKindOn(s, selection.value.indices, kind)),
    applyToAll: (from: number, field: string) => edit((s) => applyToAll(s, from, field)),
    moveLayer: (from: number, to: number) => edit((s) => moveLayer(s, from, to)),
    duplicateLayer: (index: number) => edit((s) => duplicateLayer(s, index)),
    deleteLayer: (index: number) => edit((s) => deleteLayer(s, index)),
  }
})
