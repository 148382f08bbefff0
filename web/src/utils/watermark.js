// Security watermark (安全水印): user, organisation, time and channel, tiled over the
// picture. Drawn on a canvas above the <video> (hiding it with CSS alone does not
// remove the marks from screenshots of the canvas composite), and into snapshots.

export function watermarkText(user, channel, now = new Date()) {
  const org = user?.organisation?.name || (user?.org_id != null ? `org ${user.org_id}` : '-')
  const time = now.toISOString().replace('T', ' ').slice(0, 19) + 'Z'
  return `${user?.username || '?'} | ${org} | ${time} | ${channel?.channel_id || ''}`
}

export function drawWatermark(ctx, width, height, text) {
  const size = Math.max(12, Math.round(Math.min(width, height) / 28))
  ctx.save()
  ctx.clearRect(0, 0, width, height)
  ctx.font = `${size}px sans-serif`
  ctx.textBaseline = 'top'
  ctx.fillStyle = 'rgba(255, 255, 255, 0.22)'
  const tw = ctx.measureText(text).width + size * 4
  let row = 0
  for (let y = -size; y < height; y += size * 6, row += 1) {
    for (let x = -((row % 2) * tw) / 2; x < width; x += tw) ctx.fillText(text, x, y)
  }
  ctx.fillStyle = 'rgba(0, 0, 0, 0.4)'
  ctx.fillRect(0, height - size * 1.8, width, size * 1.8)
  ctx.fillStyle = 'rgba(255, 255, 255, 0.9)'
  ctx.fillText(text, size / 2, height - size * 1.5)
  ctx.restore()
}
