// The Engine screen's "in use now" cell: memory in use on a device (total
// minus free, every process counted) and its share, or a dash where the
// engine does not know the free memory.
import { formatBytes } from '../../../electron/api/format'
import type { DeviceInfo } from '../../../electron/api/labapi'

export function memoryInUse(d: Pick<DeviceInfo, 'memoryBytes' | 'freeBytes'>): string {
  if (d.freeBytes === undefined || !(d.memoryBytes > 0)) return '—'
  const used = Math.max(0, d.memoryBytes - d.freeBytes)
  return `${formatBytes(used)} (${Math.round((100 * used) / d.memoryBytes)}%)`
}
