// One paged table's state (rows, total, page, page size, loading, error) and its
// loading, shared by the list views instead of each copying it.
//
// Why a composable: every view had the same refs, the same offset arithmetic and the
// same "filters changed → back to page 1 → load" dance, and some loaded twice when a
// filter change also moved the page. Here a change of page or page size loads once,
// `reset()` returns to page 1 with one load, and an answer that arrives after a newer
// request started is dropped (typing in a filter fires requests out of order).
import { onBeforeUnmount, ref, watch } from 'vue'
import { ElMessage } from 'element-plus'

/**
 * @param {(q: {offset: number, limit: number}) => Promise<{items: any[], total: number}>} fetchPage
 * @param {{size?: number, onError?: ((err: Error) => void) | null}} [opts]
 *   onError defaults to a toast; pass null to only set `error` (a view that shows it inline).
 */
export function usePagedList(fetchPage, { size = 20, onError = (err) => ElMessage.error(err.message) } = {}) {
  const rows = ref([])
  const total = ref(0)
  const page = ref(1)
  const pageSize = ref(size)
  const loading = ref(false)
  const error = ref('')
  let seq = 0
  let timer = null

  async function load() {
    const mine = ++seq
    loading.value = true
    try {
      const out = await fetchPage({ offset: (page.value - 1) * pageSize.value, limit: pageSize.value })
      if (mine !== seq) return
      rows.value = out.items
      total.value = out.total
      error.value = ''
    } catch (err) {
      if (mine !== seq) return
      error.value = err.message
      onError?.(err)
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  /** Back to the first page with a single load (the page watch loads when it moves). */
  function reset() {
    clearTimeout(timer)
    if (page.value === 1) return load()
    page.value = 1
  }

  /** Load once after `ms` of quiet: bursts of events or keystrokes cost one request. */
  function reloadSoon(ms = 500, { first = false } = {}) {
    clearTimeout(timer)
    timer = setTimeout(first ? reset : load, ms)
  }

  watch([page, pageSize], load)
  onBeforeUnmount(() => clearTimeout(timer))
  return { rows, total, page, size: pageSize, loading, error, load, reset, reloadSoon }
}
