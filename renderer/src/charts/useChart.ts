// One chart instance per component, kept outside reactive state: created on
// mount, fed every new option, resized with its box, disposed on unmount.
import type { EChartsCoreOption } from 'echarts/core'
import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue'
import { echarts } from './echarts'

export function useChart(el: Ref<HTMLElement | null>, option: Ref<EChartsCoreOption | null>): void {
  let chart: echarts.ECharts | undefined
  let observer: ResizeObserver | undefined

  onMounted(() => {
    if (!el.value) return
    chart = echarts.init(el.value, undefined, { renderer: 'canvas' })
    if (option.value) chart.setOption(option.value, true)
    observer = new ResizeObserver(() => chart?.resize())
    observer.observe(el.value)
  })

  watch(option, (next) => {
    if (chart && next) chart.setOption(next, true)
  })

  onBeforeUnmount(() => {
    observer?.disconnect()
    chart?.dispose()
    chart = undefined
  })
}
