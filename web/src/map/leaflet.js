// Leaflet with the markercluster plugin (a UMD script that extends the global L).
import L from 'leaflet'
import 'leaflet/dist/leaflet.css'
import 'leaflet.markercluster/dist/MarkerCluster.css'
import 'leaflet.markercluster/dist/MarkerCluster.Default.css'

let ready = null
export function loadLeaflet() {
  if (!ready) {
    window.L = L
    ready = import('leaflet.markercluster').then(() => L)
  }
  return ready
}
