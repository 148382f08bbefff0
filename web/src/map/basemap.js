// The offline basemap: China's provinces from Apache ECharts 4.9's map data
// (Apache-2.0, npm `echarts@4.9.0`, aliased as `echarts-china-map`), drawn as a
// Leaflet GeoJSON layer when no tile server is configured. ECharts stores the
// polygons compressed (UTF8Encoding: zigzag-delta coded char pairs); decode here.

function decodeRing(text, offsets, scale) {
  const out = []
  let prevX = offsets[0]
  let prevY = offsets[1]
  for (let i = 0; i < text.length; i += 2) {
    let x = text.charCodeAt(i) - 64
    let y = text.charCodeAt(i + 1) - 64
    x = (x >> 1) ^ -(x & 1)
    y = (y >> 1) ^ -(y & 1)
    x += prevX
    y += prevY
    prevX = x
    prevY = y
    out.push([x / scale, y / scale])
  }
  return out
}

export function decodeEchartsGeo(json) {
  if (!json.UTF8Encoding) return json
  const scale = json.UTF8Scale || 1024
  const features = json.features.map((f) => {
    const g = f.geometry
    let coordinates
    if (g.type === 'Polygon') {
      coordinates = g.coordinates.map((ring, i) => decodeRing(ring, g.encodeOffsets[i], scale))
    } else if (g.type === 'MultiPolygon') {
      coordinates = g.coordinates.map((poly, i) => poly.map((ring, j) => decodeRing(ring, g.encodeOffsets[i][j], scale)))
    } else {
      coordinates = g.coordinates
    }
    return { type: 'Feature', id: f.id, properties: f.properties, geometry: { type: g.type, coordinates } }
  })
  return { type: 'FeatureCollection', features }
}

let cached = null
export async function chinaGeoJson() {
  if (!cached) {
    cached = import('echarts-china-map/map/json/china.json').then((m) => decodeEchartsGeo(m.default || m))
  }
  return cached
}
