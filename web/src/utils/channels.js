import { api } from '../api/client.js'

/** A channel with its primary key, from anything that names it by device/channel ID. */
export async function resolveChannel(ch) {
  if (ch.id) return ch
  const page = await api.get('/channels', { q: ch.channel_id, device_id: ch.device_id || undefined, limit: 20 })
  const found = page.items.find((c) => c.channel_id === ch.channel_id && (!ch.device_id || c.device_id === ch.device_id))
  if (!found) throw new Error(`channel ${ch.channel_id} not found`)
  return found
}

export function isPtz(ch) {
  // GB PTZType: 1 球机 (dome), 2 半球, 3 固定枪机, 4 遥控枪机 — 1 and 4 move.
  return ch && (ch.ptz_type === 1 || ch.ptz_type === 4)
}
