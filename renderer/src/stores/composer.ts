// The composer's state: the ModelSpec being edited, its history (undo/redo,
// each step with the layers that were selected), the preset it started from,
// the selected layers (edited together), the hybrid slider's preview and the
// placement it uses, validation by the engine's own schema, estimates from
// the engine, saving to the workspace, and Export… of the design (its
// initial weights as a PyTorch folder, fla's too where it applies).
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, watch } from 'vue'
import type { DesignExport, ModelEstimate, SavedSpecInfo } from '../../../electron/api/labapi'
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
import { applyOrder, blockMoveOrder, groupShiftOrder, isIdentity, newIndexOf, type LayerSpan } from '../composer/reorder'
import { clampSelection, collapseToFocus, rangeTo, remapSelection, selectSpan, toggleSpan, type LayerSelection } from '../composer/selection'

const HISTORY_LIMIT = 200

/** One undo (or redo) step: the spec as JSON and the layers selected with it, so undo brings both back. */
interface HistoryEntry {
  spec: string
  selection: LayerSelection
}
const copySelection = (s: LayerSelection): LayerSelection => ({ indices: [...s.indices], anchor: s.anchor, focus: s.focus })

/** The placement the hybrid slider uses when the spec's is manual and no automatic one was used before. */
export const DEFAULT_AUTO_PLACEMENT: Exclude<Placement, 'manual'> = 'interleave'
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
  const past = shallowRef<HistoryEntry[]>([])
  const future = shallowRef<HistoryEntry[]>([])
  /** The automatic placement (interleave, first, last) the spec last had: the slider returns to it from manual. */
  const lastAutoPlacement = ref<Exclude<Placement, 'manual'> | null>(null)
  /** What the hybrid slider places softmax layers by: the spec's rule, or (when manual) the last automatic one. */
  const sliderPlacement = computed<Exclude<Placement, 'manual'>>(() => {
    const p = spec.value?.hybrid.placement
    return p && p !== 'manual' ? p : (lastAutoPlacement.value ?? DEFAULT_AUTO_PLACEMENT)
  })
  /** Said when the slider switched a manual placement to an automatic one; cleared once the placement changes again. */
  const hybridNotice = ref('')
  let noticePlacement: Placement | null = null
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

  const here = (): HistoryEntry => ({ spec: JSON.stringify(spec.value), selection: copySelection(selection.value) })

  /** Replaces the spec, recording the previous one (and the selection with it) for undo. */
  function commit(next: ModelSpec, record = true): void {
    if (record && spec.value) {
      past.value = [...past.value.slice(past.value.length >= HISTORY_LIMIT ? 1 : 0), here()]
      future.value = []
    }
    spec.value = next
    selection.value = clampSelection(selection.value, next.layers.length)
    // Here, not in a watch: several edits in one tick must not skip an automatic placement.
    const placement = (next.hybrid as ModelSpec['hybrid'] | undefined)?.placement
    if (placement && placement !== 'manual') lastAutoPlacement.value = placement
    if (placement !== noticePlacement) clearHybridNotice()
    scheduleEstimate()
  }

  /** Moves one step from `from` to `to` (undo: past → future; redo: the reverse), the selection with the spec. */
  function step(from: typeof past, to: typeof past): void {
    const entry = from.value.at(-1)
    if (!entry || !spec.value) return
    from.value = from.value.slice(0, -1)
    to.value = [...to.value, here()]
    const restored = JSON.parse(entry.spec) as ModelSpec
    commit(restored, false)
    selection.value = clampSelection(entry.selection, restored.layers.length)
  }
  const undo = () => step(past, future)
  const redo = () => step(future, past)

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

  /**
   * Alt+arrow: the selected layers one step up/left (-1) or down/right (+1),
   * as a block. `folded`: the graph's groups; a neighbour folded as ×N is
   * one step, so the block moves past all of it.
   */
  function moveSelection(delta: -1 | 1, folded: readonly LayerSpan[] = []): boolean {
    return spec.value ? reorder(groupShiftOrder(spec.value.layers.length, selection.value.indices, delta, folded)) : false
  }

  /** Drag and drop: `layers` (a folded group, or the selection) into the gap before layer `gap` (n: the end); they end selected. */
  function moveLayersTo(layers: readonly number[], gap: number): boolean {
    return spec.value ? reorder(blockMoveOrder(spec.value.layers.length, layers, gap), layers) : false
  }

  /** Shows what the hybrid slider at `ratio` would place, without changing the spec. */
  function previewHybridRatio(ratio: number): void {
    hybridPreview.value = ratio
  }

  /**
   * Sets the ratio (the slider released or stepped by key) with the spec's
   * placement rule. A manual placement cannot follow a ratio: it becomes the
   * last automatic one (sliderPlacement), in the same undo step, and
   * hybridNotice says so.
   */
  function applyHybridRatio(ratio: number): void {
    hybridPreview.value = null
    if (!spec.value) return
    const { placement, ratio: now } = spec.value.hybrid
    if (ratio === now) return
    const to = sliderPlacement.value
    const switching = placement === 'manual'
    if (switching) noticePlacement = to // before the edit, so commit keeps the message it is about to get
    if (!edit((s) => setHybrid(s, ratio, to))) {
      if (switching) clearHybridNotice()
      return
    }
    if (switching)
      hybridNotice.value = `The placement was manual (layers set by hand); moving the slider switched it to ${to}. Undo brings the hand-set layers back.`
  }

  function clearHybridNotice(): void {
    hybridNotice.value = ''
    noticePlacement = null
  }

  async function loadPresets(): Promise<void> {
    presets.value = await labApi().listPresets({})
  }

  function startFromPreset(id: string): void {
    const p = presets.value.find((x) => x.preset === id)
    if (!p) return
    presetId.value = id
    clearHybridNotice()
    // A new composition: Save follows its name again, and asks before overwriting any saved spec.
    saveNamePinned = false
    savedName.value = ''
    pendingOverwrite.value = null
    commit(structuredClone(p)) // (undo brings back the previous spec and its selection)
    selection.value = selectSpan(0)
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
    clearHybridNotice()
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

  // ---- Export…: the design with its initial weights, written into the workspace's exports/ ----
  /** The seed the export initializes the weights with (a run's TrainSpec seed starts the same weights). */
  const exportSeed = ref(0)
  const exporting = ref(false)
  /** What the last export wrote (folder, files, the fla line); null before one, or after a refused one. */
  const exported = shallowRef<DesignExport | null>(null)

  /**
   * Exports the spec as it stands. An invalid spec is sent too: the service
   * validates it and its refusal, naming the fields, lands in `error`.
   */
  async function exportDesign(): Promise<DesignExport | null> {
    error.value = ''
    exported.value = null
    if (!spec.value) return null
    exporting.value = true
    try {
      exported.value = await labApi().exportDesign({ spec: spec.value, seed: exportSeed.value })
      status.value = ''
      return exported.value
    } catch (err) {
      error.value = messageOf(err)
      return null
    } finally {
      exporting.value = false
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
      clearHybridNotice()
      commit(loaded)
      selection.value = selectSpan(0)
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
    sliderPlacement,
    hybridNotice,
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
    exportSeed,
    exporting,
    exported,
    exportDesign,
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
