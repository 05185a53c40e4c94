// electron-builder's beforePack hook: refuses to package an app whose native
// engine is missing or would not run where the package goes.
// - no native/build/Release/linea.node: nothing to ship (npm run build:native);
// - no out/main/index.js: the app is not bundled (npm run build);
// - an addon built on another OS or CPU architecture than the package's:
//   linea.node is built for the machine that packages, so each OS packages
//   its own installer;
// - an addon tuned with -march=native (LINEA_NATIVE_ARCH=ON in CMake's
//   cache): it may die with an illegal instruction on other CPUs. Allowed
//   for `--dir` builds (run here) or with LINEA_ALLOW_NATIVE_ARCH=1.
// CommonJS because package.json says "type": "module" and electron-builder
// loads hooks with require or import.
const { existsSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

/** electron-builder's Arch enum, by value. */
const ARCH_NAMES = ['ia32', 'x64', 'armv7l', 'arm64', 'universal']

const REBUILD_FOR_DISTRIBUTION = 'LINEA_CMAKE_ARGS="-DLINEA_NATIVE_ARCH=OFF" npm run build:native'

/**
 * Everything wrong with packaging this checkout for `platform`/`arch`
 * (electron-builder's names), as sentences; empty when all is well.
 * @param {{ root: string, platform: string, arch: string, targets: string[], hostPlatform: string, hostArch: string, allowNativeArch: boolean }} p
 * @returns {string[]}
 */
function packagingProblems(p) {
  const problems = []
  const addon = join(p.root, 'native', 'build', 'Release', 'linea.node')
  if (!existsSync(join(p.root, 'out', 'main', 'index.js')))
    problems.push(`the app is not bundled (no ${join(p.root, 'out', 'main', 'index.js')}); run: npm run build`)
  if (!existsSync(addon)) {
    problems.push(`no native engine at ${addon}; build it first: ${REBUILD_FOR_DISTRIBUTION}`)
    return problems
  }
  if (p.platform !== p.hostPlatform)
    problems.push(
      `${addon} is built for ${p.hostPlatform}, but this package is for ${p.platform}: package each OS on that OS (after npm run build:native there)`,
    )
  if (p.arch !== p.hostArch)
    problems.push(`${addon} is built for ${p.hostArch}, but this package is for ${p.arch}: package on a ${p.arch} machine, or drop --${p.arch}`)
  const cache = join(p.root, 'native', 'build', 'CMakeCache.txt')
  const nativeArch = existsSync(cache) && /^LINEA_NATIVE_ARCH:BOOL=ON$/m.test(readFileSync(cache, 'utf8'))
  // `--dir` hands the hook no targets (its "dir" target is no artifact): an unpacked app for this machine.
  const onlyThisMachine = p.targets.every((t) => t === 'dir')
  if (nativeArch && !onlyThisMachine && !p.allowNativeArch)
    problems.push(
      `${addon} was built with LINEA_NATIVE_ARCH=ON (-march=native): it may crash with an illegal instruction on other CPUs. ` +
        `Rebuild it for distribution: ${REBUILD_FOR_DISTRIBUTION} (or set LINEA_ALLOW_NATIVE_ARCH=1 to package for this machine only)`,
    )
  return problems
}

async function beforePack(context) {
  const problems = packagingProblems({
    root: context.packager.projectDir,
    platform: context.electronPlatformName,
    arch: ARCH_NAMES[context.arch] ?? String(context.arch),
    targets: context.targets.map((t) => t.name),
    hostPlatform: process.platform,
    hostArch: process.arch,
    allowNativeArch: process.env.LINEA_ALLOW_NATIVE_ARCH === '1',
  })
  if (problems.length) throw new Error(`Linea cannot be packaged:\n- ${problems.join('\n- ')}`)
}

module.exports = beforePack
module.exports.default = beforePack
module.exports.packagingProblems = packagingProblems
