export function fmtTime(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return String(value)
  const p = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function pct(part, total) {
  if (!total) return '—'
  return `${((100 * part) / total).toFixed(1)}%`
}

export function fmtBitrate(bps) {
  if (!bps) return '—'
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbps`
  return `${(bps / 1e3).toFixed(0)} kbps`
}
