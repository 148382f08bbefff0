// Live online state of devices and channels, fed by the event stream.
//
// Views seed it from what they load (`seedDevices`, `seedChannels`); events then
// change it in place, so every status dot bound to it changes without a reload.
// `version.resync` grows after a reconnect: views watch it and reload.
import { reactive } from 'vue'
import { onEvent } from '../api/events.js'

export const liveStatus = reactive({
  devices: {},
  channels: {},
  byCode: {}, // channel ID alone → online (for ledger records, which know only the code)
  resync: 0,
  lastAlarm: null,
  alarmsSeen: 0,
})

export const channelKey = (deviceId, channelId) => `${deviceId}/${channelId}`

export function seedDevices(items) {
  for (const d of items) liveStatus.devices[d.id] = !!d.online
}

export function seedChannels(items) {
  for (const c of items) {
    liveStatus.channels[channelKey(c.device_id, c.channel_id)] = !!c.online
    liveStatus.byCode[c.channel_id] = !!c.online
  }
}

export function deviceOnline(device) {
  const v = liveStatus.devices[device.id]
  return v === undefined ? !!device.online : v
}

export function channelOnline(channel) {
  const v = channel.device_id
    ? liveStatus.channels[channelKey(channel.device_id, channel.channel_id)]
    : liveStatus.byCode[channel.channel_id]
  return v === undefined ? !!channel.online : v
}

let wired = false
export function wireStatusEvents() {
  if (wired) return
  wired = true
  onEvent('device.online', (e) => (liveStatus.devices[e.data.device_id] = true))
  onEvent('device.offline', (e) => {
    liveStatus.devices[e.data.device_id] = false
  })
  onEvent('channel.online', (e) => {
    liveStatus.channels[channelKey(e.data.device_id, e.data.channel_id)] = true
    liveStatus.byCode[e.data.channel_id] = true
  })
  onEvent('channel.offline', (e) => {
    liveStatus.channels[channelKey(e.data.device_id, e.data.channel_id)] = false
    liveStatus.byCode[e.data.channel_id] = false
  })
  onEvent('alarm', (e) => {
    liveStatus.lastAlarm = e
    liveStatus.alarmsSeen += 1
  })
  onEvent('resync', () => (liveStatus.resync += 1))
}
