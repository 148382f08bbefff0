// The ledger's closed lists (GET /api/ledger/dictionaries), loaded once.
// Labels are the Chinese terms of the survey forms; in English the code is shown.
import { reactive } from 'vue'
import { api } from '../api/client.js'
import { i18n } from '../i18n/index.js'

export const dicts = reactive({ loaded: false })
let pending = null

export function loadDicts() {
  if (!pending) {
    pending = api
      .get('/ledger/dictionaries')
      .then((d) => Object.assign(dicts, d, { loaded: true }))
      .catch((err) => {
        pending = null
        throw err
      })
  }
  return pending
}

export function options(name) {
  const list = dicts[name] || []
  return list.map((o) => ({ value: o.code, label: dictLabel(name, o.code) }))
}

export function dictLabel(name, code) {
  if (code === null || code === undefined || code === '') return ''
  const hit = (dicts[name] || []).find((o) => String(o.code) === String(code))
  if (!hit) return String(code)
  return i18n.global.locale.value === 'en' ? String(hit.code).replace(/_/g, ' ') : hit.label
}
