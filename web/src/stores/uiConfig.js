// Console settings from the node (GET /api/ui/config): tile source and map view.
import { reactive } from 'vue'
import { api } from '../api/client.js'

export const uiConfig = reactive({ loaded: false, tile_url: null })
let pending = null

export function loadUiConfig() {
  if (!pending) {
    pending = api
      .get('/ui/config')
      .then((cfg) => Object.assign(uiConfig, cfg, { loaded: true }))
      .catch(() => {
        pending = null
        return uiConfig
      })
  }
  return pending
}
