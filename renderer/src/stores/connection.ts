// Whether the Linea server answers (browser mode). While it does not, every
// screen shows one banner, and what the screens last read (the engine's
// state above all) is marked as unknown instead of shown as current.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { onConnection } from '../api/client'

export const useConnectionStore = defineStore('connection', () => {
  /** False from a lost connection until the client reconnects. */
  const reachable = ref(true)
  /** When the connection was lost (ms since the epoch), for "since …". */
  const lostAtMs = ref<number | null>(null)

  /** Follows the client's connection; returns the unsubscribe function. */
  function watch(): () => void {
    return onConnection((up) => {
      if (up) lostAtMs.value = null
      else if (reachable.value) lostAtMs.value = Date.now()
      reachable.value = up
    })
  }

  return { reachable, lostAtMs, watch }
})
