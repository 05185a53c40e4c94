// A run's backend line, compact: "cuda:0 bf16" from the engine's
// "auto picked cuda:0: ...; precision auto: bf16 on the GPU". The runs table
// and `linea runs` show it; the whole line stays in the record.

export function backendLabel(line: string | undefined): string {
  if (!line) return '—'
  const device = /\b(cpu|cuda:\d+|webgpu)\b/.exec(line)?.[1] ?? line.split(/\s/)[0]!
  const precision = /precision (?:auto: )?(bf16|f16|f32|f64)\b/.exec(line)?.[1]
  return precision ? `${device} ${precision}` : device
}
