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

// --- issue 17: field names as people read them (survey-form words; English below)
const FIELD_EN = {
  code: '20-digit code', name: 'Name', osd_text: 'OSD text', location_name: 'Location', platform_name: 'Platform', brand: 'Brand',
  region_code: 'Region', police_station_id: 'Police station', longitude: 'Longitude', latitude: 'Latitude', build_date: 'Built',
  status: 'Status', integration_method: 'Integration', point_class: 'Point class', key_area_category: 'Key area', place: 'Place',
  network: 'Network', owner_org_id: 'Owner', maintainer_org_id: 'Maintainer', shareable: 'Shareable', storage_days: 'Storage days',
  camera_type: 'Camera type', direction: 'Direction', position_type: 'Position type', room_type: 'Indoor/outdoor', use_type: 'Use',
  resolution: 'Resolution', codec: 'Codec', social: 'Social resource', remark: 'Remark', coordinates: 'Coordinates', leased: 'Leased',
  pole_build_date: 'Pole built', pole_number: 'Pole number', pole_height_m: 'Pole height (m)', pole_arms: 'Pole arms', pole_condition: 'Pole condition',
}
// fields whose values are codes of a closed list
const FIELD_VOCAB = { status: 'status', network: 'network', point_class: 'point_class', camera_type: 'camera_type', direction: 'direction', integration_method: 'integration_method', pole_condition: 'pole_condition' }

export function fieldLabel(field) {
  if (i18n.global.locale.value === 'en') return FIELD_EN[field] || field.replace(/_/g, ' ')
  return dicts.field_labels?.[field] || FIELD_EN[field] || field
}

/** A field's value for people: a closed list's label, yes/no, coordinates joined. */
export function fieldValue(field, value) {
  if (value === null || value === undefined || value === '') return '—'
  if (Array.isArray(value)) return value.map((v) => (v ?? '—')).join(', ')
  if (typeof value === 'boolean') return i18n.global.t(value ? 'common.yes' : 'common.no')
  const vocab = FIELD_VOCAB[field]
  return vocab ? dictLabel(vocab, value) : String(value)
}

/** "region_code / point_class 必填项缺失" → the same sentence with the fields' labels. */
export function issueText(issue) {
  const label = issue.field ? issue.field.split(/\s*[/,]\s*/).map(fieldLabel).join('、') : ''
  let reason = String(issue.reason || '')
  reason = reason.replace(/\b[a-z]+(?:_[a-z]+)+\b|\b(?:name|code|status|brand|network|longitude|latitude|direction)\b/g, (m) => (m in FIELD_EN ? fieldLabel(m) : m))
  return { label, reason }
}
// --- end issue 17
