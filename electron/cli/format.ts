import type { EngineInfo } from '../api/labapi'
import { formatBytes } from '../api/format'

export function formatEngineInfo(info: EngineInfo): string {
  const lines = [
    `Linea engine ${info.version} (Node ${info.node}, ${info.platform}-${info.arch}, ${info.compiler})`,
    `backends compiled: ${info.backendsCompiled.join(', ')}`,
    `CUDA: ${info.cudaStatus}`,
    `BLAS: ${info.blas}`,
    'devices:',
    // WebGPU does not report an adapter's memory (0): leave it out rather than print "0 B".
    ...info.devices.map((d) => `  ${d.id.padEnd(8)} ${d.name}, ${d.memoryBytes > 0 ? `${formatBytes(d.memoryBytes)}, ` : ''}${d.detail}`),
    'ops:',
    ...info.ops.map(
      (op) =>
        `  ${op.name.padEnd(20)} ${Object.entries(op.kernels)
          .map(([b, d]) => `${b}: ${d.join('/') || '-'}`)
          .join('  ')}`,
    ),
  ]
  return lines.join('\n') + '\n'
}
