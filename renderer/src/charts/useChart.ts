// One chart instance per component, kept outside reactive state: created on
// mount, fed every new option, resized with its box, disposed on unmount;
// re-created with the other theme when the system's colour scheme changes.
import type { EChartsCoreOption } from 'echarts/core'
import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue'
import { chartThemeName, optionForDark } from './chart-theme'
import { useColorScheme } from './color-scheme'
import { echarts } from './echarts'

export function useChart(el: Ref<HTMLElement | null>, option: Ref<EChartsCoreOption | null>): void {
  let chart: echarts.ECharts | undefined
  let observer: ResizeObserver | undefined
  const scheme = useColorScheme()
  const themed = (o: EChartsCoreOption) => (scheme.value === 'dark' ? optionForDark(o) : o)

  const create = () => {
    if (!el.value) return
    chart = echarts.init(el.value, chartThemeName(scheme.value), { renderer: 'canvas' })
    if (option.value) chart.setOption(themed(option.value), true)
  }

  onMounted(() => {
    if (!el.value) return
    create()
    observer = new ResizeObserver(() => chart?.resize())
    observer.observe(el.value)
  })

  watch(option, (next) => {
    if (chart && next) chart.setOption(themed(next), true)
  })

  watch(scheme, () => {
    if (!chart) return
    chart.dispose()
    create()
  })

  onBeforeUnmount(() => {
    observer?.disconnect()
    chart?.dispose()
    chart = undefined
  })
}
