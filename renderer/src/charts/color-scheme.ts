// The system's colour scheme (prefers-color-scheme), as a reactive value that
// follows the setting live: the CSS follows it by itself (styles.css's dark
// block), the charts through this (useChart re-creates them on a change).
import { readonly, ref, type Ref } from 'vue'
import { colorForDark, type ColorScheme } from './chart-theme'

const QUERY = '(prefers-color-scheme: dark)'
const scheme = ref<ColorScheme>('light')
let listening = false

/** The current scheme; starts listening to the system's setting on first use. */
export function useColorScheme(): Readonly<Ref<ColorScheme>> {
  if (!listening && typeof window !== 'undefined' && typeof window.matchMedia === 'function') {
    listening = true
    const media = window.matchMedia(QUERY)
    scheme.value = media.matches ? 'dark' : 'light'
    media.addEventListener('change', (e) => {
      scheme.value = e.matches ? 'dark' : 'light'
    })
  }
  return readonly(scheme)
}

/** A colour as the charts draw it on the current scheme (colorForDark on dark): for swatches that stand for a chart's line. */
export function useSchemeColor(): (color: string | undefined) => string | undefined {
  const current = useColorScheme()
  return (color) => (color !== undefined && current.value === 'dark' ? colorForDark(color) : color)
}
