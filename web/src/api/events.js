// WebSocket client for `WS /api/events?token=…` with reconnect and backoff.
//
// Listeners subscribe by event type ('device.offline', …) or '*'. After a
// reconnect — or when the server says it dropped events for us — listeners of
// 'resync' are called so views can reload what they show: events missed while
// the socket was down are not replayed by the node.

import { reactive } from 'vue'

const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 30000

export const eventsState = reactive({ connected: false, reconnects: 0, received: 0 })

const listeners = new Map()
let ws = null
let tokenFn = null
let stopped = true
let backoff = BACKOFF_MIN_MS
let timer = null
let everOpened = false

export function onEvent(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set())
  listeners.get(type).add(fn)
  return () => listeners.get(type)?.delete(fn)
}

function emit(type, payload) {
  for (const key of [type, '*']) {
    const set = listeners.get(key)
    if (!set) continue
    for (const fn of [...set]) {
      try {
        fn(payload)
      } catch (err) {
        console.warn('event listener failed', err)
      }
    }
  }
}

function url() {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${window.location.host}/api/events?token=${encodeURIComponent(tokenFn())}`
}

function open() {
  clearTimeout(timer)
  timer = null
  if (stopped || !tokenFn || !tokenFn()) return
  const sock = new WebSocket(url())
  ws = sock
  sock.onopen = () => {
    if (ws !== sock) return
    eventsState.connected = true
    backoff = BACKOFF_MIN_MS
    if (everOpened) {
      eventsState.reconnects += 1
      emit('resync', { reason: 'reconnect' })
    }
    everOpened = true
  }
  sock.onmessage = (msg) => {
    if (ws !== sock || typeof msg.data !== 'string') return
    let event
    try {
      event = JSON.parse(msg.data)
    } catch {
      return
    }
    eventsState.received += 1
    emit(event.type, event)
    if (event.dropped) emit('resync', { reason: 'dropped', dropped: event.dropped })
  }
  sock.onclose = () => {
    if (ws !== sock) return
    ws = null
    eventsState.connected = false
    schedule()
  }
  sock.onerror = () => {
    /* onclose follows and reconnects */
  }
}

function schedule() {
  if (stopped || timer) return
  const delay = backoff * (0.8 + Math.random() * 0.4)
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
  timer = setTimeout(open, delay)
}

/** Start (or keep) the event stream; `getToken` returns the current bearer token. */
export function startEvents(getToken) {
  tokenFn = getToken
  if (!stopped) return
  stopped = false
  everOpened = false
  backoff = BACKOFF_MIN_MS
  open()
}

export function stopEvents() {
  stopped = true
  clearTimeout(timer)
  timer = null
  if (ws) {
    const sock = ws
    ws = null
    sock.close(1000, 'logout')
  }
  eventsState.connected = false
}
