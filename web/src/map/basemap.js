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

// --- issue 17: prefecture (地市) boundaries and names for the province in view, from
// the same package's province maps (ECharts 4.9, Apache-2.0). County and township
// polygons are not in any package found; see docs/console.md.
const PROVINCE_FILES = {
  11: () => import('echarts-china-map/map/json/province/beijing.json'),
  12: () => import('echarts-china-map/map/json/province/tianjin.json'),
  13: () => import('echarts-china-map/map/json/province/hebei.json'),
  14: () => import('echarts-china-map/map/json/province/shanxi.json'),
  15: () => import('echarts-china-map/map/json/province/neimenggu.json'),
  21: () => import('echarts-china-map/map/json/province/liaoning.json'),
  22: () => import('echarts-china-map/map/json/province/jilin.json'),
  23: () => import('echarts-china-map/map/json/province/heilongjiang.json'),
  31: () => import('echarts-china-map/map/json/province/shanghai.json'),
  32: () => import('echarts-china-map/map/json/province/jiangsu.json'),
  33: () => import('echarts-china-map/map/json/province/zhejiang.json'),
  34: () => import('echarts-china-map/map/json/province/anhui.json'),
  35: () => import('echarts-china-map/map/json/province/fujian.json'),
  36: () => import('echarts-china-map/map/json/province/jiangxi.json'),
  37: () => import('echarts-china-map/map/json/province/shandong.json'),
  41: () => import('echarts-china-map/map/json/province/henan.json'),
  42: () => import('echarts-china-map/map/json/province/hubei.json'),
  43: () => import('echarts-china-map/map/json/province/hunan.json'),
  44: () => import('echarts-china-map/map/json/province/guangdong.json'),
  45: () => import('echarts-china-map/map/json/province/guangxi.json'),
  46: () => import('echarts-china-map/map/json/province/hainan.json'),
  50: () => import('echarts-china-map/map/json/province/chongqing.json'),
  51: () => import('echarts-china-map/map/json/province/sichuan.json'),
  52: () => import('echarts-china-map/map/json/province/guizhou.json'),
  53: () => import('echarts-china-map/map/json/province/yunnan.json'),
  54: () => import('echarts-china-map/map/json/province/xizang.json'),
  61: () => import('echarts-china-map/map/json/province/shanxi1.json'),
  62: () => import('echarts-china-map/map/json/province/gansu.json'),
  63: () => import('echarts-china-map/map/json/province/qinghai.json'),
  64: () => import('echarts-china-map/map/json/province/ningxia.json'),
  65: () => import('echarts-china-map/map/json/province/xinjiang.json'),
  71: () => import('echarts-china-map/map/json/province/taiwan.json'),
  81: () => import('echarts-china-map/map/json/province/xianggang.json'),
  82: () => import('echarts-china-map/map/json/province/aomen.json'),
}
const provinceCache = new Map()

/** Prefecture polygons (with `name` and centre `cp`) of a province, by its 2-digit code. */
export function provinceGeoJson(code2) {
  const load = PROVINCE_FILES[Number(code2)]
  if (!load) return Promise.resolve(null)
  if (!provinceCache.has(code2)) provinceCache.set(code2, load().then((m) => decodeEchartsGeo(m.default || m)))
  return provinceCache.get(code2)
}
