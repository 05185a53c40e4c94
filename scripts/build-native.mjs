// Builds the native engine with cmake-js into native/build (linea.node, the
// C++ library, its tests). Extra CMake options: LINEA_CMAKE_ARGS="-DLINEA_CUDA=OFF ...".
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js')
const extra = (process.env.LINEA_CMAKE_ARGS ?? '').split(/\s+/).filter(Boolean)
const args = [cmakeJs, 'compile', '--directory', join(root, 'native'), '--out', join(root, 'native', 'build')]
if (spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0) args.push('--generator', 'Ninja')
for (const a of extra) args.push(a.startsWith('-D') ? `--CD${a.slice(2)}` : a)

const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
const addon = join(root, 'native', 'build', 'Release', 'linea.node')
if (result.status !== 0 || !existsSync(addon)) {
  console.error(`
Linea's native engine did not build.
It needs: CMake >= 3.20, a C++17 compiler, and on Linux OpenBLAS
  (Debian/Ubuntu: sudo apt install cmake g++ libopenblas-dev doctest-dev).
The CUDA backend is optional: it is built when a CUDA toolkit with cuBLAS is found.
Fix what the log above names, then run: npm run build:native
(A compiler warning stops the build: Linea's own C++ builds with -Werror. With a
compiler newer than CI's, LINEA_CMAKE_ARGS=-DLINEA_WERROR=OFF npm run build:native
builds anyway; please report the warning.)`)
  process.exit(result.status || 1)
}
console.log(`linea: native engine built: ${addon}`)
