// The runs compared on the Runs screen, kept in its URL (#/workspace?compare=a,b)
// so a reload, or a link, shows the same comparison. Read from a URL anyone
// can type: only run ids are kept (the LabApi's RunId), each once, at most
// MAX_COMPARED; ids the workspace does not have are dropped by the store.

export const COMPARE_QUERY = 'compare'
export const MAX_COMPARED = 50
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/

/** The run ids of a `compare` query value (a string, an array of them from a repeated key, or absent). */
export function parseCompared(value: unknown): string[] {
  const parts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string').flatMap((v) => v.split(','))
  return [...new Set(parts.map((p) => p.trim()).filter((p) => RUN_ID.test(p)))].slice(0, MAX_COMPARED)
}

/** The query value for these ids, or undefined for none (the key is left out). */
export function formatCompared(ids: readonly string[]): string | undefined {
  const kept = parseCompared(ids.join(','))
  return kept.length ? kept.join(',') : undefined
}
