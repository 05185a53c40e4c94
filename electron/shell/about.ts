// The About box: the app's versions and what the engine found (backends,
// devices, BLAS), or why the engine could not answer.
import type { EngineInfo } from '../api/labapi'
import type { Preferences } from '../services/preferences'

export interface AppVersions {
  app: string
  electron: string
  chrome: string
  node: string
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`
}

export function aboutText(info: EngineInfo | Error, versions: AppVersions, preferences: Preferences): { message: string; detail: string } {
  const lines = [`Electron ${versions.electron} · Chromium ${versions.chrome} · Node ${versions.node}`, '']
  if (info instanceof Error) {
    lines.push(`The engine did not answer: ${info.message}`)
  } else {
    lines.push(`Engine ${info.version} (${info.compiler}), ${info.platform}-${info.arch}`)
    lines.push(`Backends built: ${info.backendsCompiled.join(', ') || 'none'}`)
    lines.push(`CUDA: ${info.cudaStatus}`)
    lines.push(`BLAS: ${info.blas} · ${info.cpuThreads} CPU threads`)
    lines.push('Devices:')
    for (const d of info.devices) lines.push(`  ${d.id}: ${d.name}${d.memoryBytes ? `, ${gib(d.memoryBytes)}` : ''}`)
  }
  lines.push('', `Preferences: default backend ${preferences.defaultBackend}, device ${preferences.device}, precision ${preferences.defaultPrecision}`)
  return { message: `Linea ${versions.app}`, detail: lines.join('\n') }
}
