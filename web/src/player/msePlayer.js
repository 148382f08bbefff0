// Live fMP4 over WebSocket into Media Source Extensions.
//
// Protocol of the node's stream WebSocket (api/routes/streams.py): a text message
// {"type": "init", "codec", "mime", "width", "height"}, the binary init segment
// (ftyp+moov), then binary fragments (moof+mdat) from the cached keyframe on; a new
// "init" may follow when the camera changes resolution or codec; {"type": "end",
// "reason", "detail"} precedes the close. Fragments are appended in order through
// a queue; the buffer is trimmed behind the play head and playback is kept near
// the live edge.

const KEEP_BEHIND_S = 20
const MAX_LATENCY_S = 3
const MAX_QUEUE = 200

/** RFC 6381 codec string from an init segment's avcC/hvcC box, if present. */
export function codecFromInit(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  const find = (tag) => {
    const t = [...tag].map((c) => c.charCodeAt(0))
    outer: for (let i = 4; i < u8.length - 4; i++) {
      for (let k = 0; k < 4; k++) if (u8[i + k] !== t[k]) continue outer
      return i + 4 // first byte of the box payload
    }
    return -1
  }
  const hex = (n) => n.toString(16).padStart(2, '0')
  const avc = find('avcC')
  if (avc > 0 && avc + 4 <= u8.length) return `avc1.${(hex(u8[avc + 1]) + hex(u8[avc + 2]) + hex(u8[avc + 3])).toUpperCase()}`
  const hvc = find('hvcC')
  if (hvc > 0 && hvc + 13 <= u8.length) {
    const b = u8[hvc + 1]
    const profileSpace = ['', 'A', 'B', 'C'][b >> 6]
    const tier = b & 0x20 ? 'H' : 'L'
    const profile = b & 0x1f
    const level = u8[hvc + 12]
    return `hvc1.${profileSpace}${profile}.6.${tier}${level}.B0`
  }
  return null
}

function mimeFor(codec) {
  if (!codec) return null
  if (codec.includes('/')) return codec // already a full MIME type
  return `video/mp4; codecs="${codec}"`
}

export class MsePlayer {
  constructor(video, { onInfo, onError, onEnd } = {}) {
    this.video = video
    this.onInfo = onInfo || (() => {})
    this.onError = onError || (() => {})
    this.onEnd = onEnd || (() => {})
    this.ws = null
    this.ms = null
    this.sb = null
    this.queue = []
    this.codec = null
    this.closed = false
    this.bytes = 0
    this.rateWindow = []
    this.timer = null
    this.end = null
  }

  static supported() {
    return typeof window.MediaSource !== 'undefined'
  }

  start(wsUrl, codecHint) {
    this.codec = codecHint || null
    this.ms = new MediaSource()
    this.video.src = URL.createObjectURL(this.ms)
    this.ms.addEventListener('sourceopen', () => this._connect(wsUrl), { once: true })
    this.timer = setInterval(() => this._tick(), 1000)
  }

  _connect(wsUrl) {
    if (this.closed) return
    const ws = new WebSocket(wsUrl)
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    ws.onmessage = (msg) => {
      if (this.closed) return
      if (typeof msg.data === 'string') {
        this._text(msg.data)
        return
      }
      this._data(new Uint8Array(msg.data))
    }
    ws.onclose = (ev) => {
      // fromServer: the node sent {"type": "end"} saying why; otherwise the connection dropped
      if (!this.closed) this.onEnd({ code: ev.code, reason: this.end?.reason || ev.reason, detail: this.end?.detail, fromServer: !!this.end })
    }
    ws.onerror = () => {
      /* onclose follows */
    }
  }

  _text(text) {
    let meta
    try {
      meta = JSON.parse(text)
    } catch {
      return
    }
    if (meta.type === 'end') {
      this.end = meta
      return
    }
    const mime = meta.mime || mimeFor(meta.mime_codec || meta.codec || meta.codecs)
    if (mime) {
      if (!this.sb) this.codec = mime
      else this.queue.push({ mime }) // a new init segment follows: switch type first
    }
    this.onInfo({ codec: meta.mime_codec || meta.codec || mime, width: meta.width, height: meta.height, audio: meta.audio })
  }

  _data(chunk) {
    this.bytes += chunk.byteLength
    if (!this.sb) {
      if (!this.codec) this.codec = codecFromInit(chunk)
      const mime = mimeFor(this.codec) || 'video/mp4; codecs="avc1.42E01E"'
      if (!window.MediaSource.isTypeSupported(mime)) {
        this.onError(new Error(`codec not supported by this browser: ${mime}`))
        this.close()
        return
      }
      try {
        this.sb = this.ms.addSourceBuffer(mime)
      } catch (err) {
        this.onError(err)
        this.close()
        return
      }
      this.sb.mode = 'segments'
      this.sb.addEventListener('updateend', () => this._pump())
      this.sb.addEventListener('error', () => this.onError(new Error('media decode error')))
      this.onInfo({ codec: mime })
    }
    if (this.queue.length >= MAX_QUEUE) {
      // Far behind (tab hidden, slow machine): drop the backlog; the next
      // keyframe fragment resynchronises.
      this.queue.length = 0
    }
    this.queue.push(chunk)
    this._pump()
  }

  _pump() {
    const sb = this.sb
    if (!sb || sb.updating || this.closed || this.ms.readyState !== 'open') return
    const v = this.video
    if (sb.buffered.length && v.currentTime - sb.buffered.start(0) > KEEP_BEHIND_S * 2) {
      try {
        sb.remove(sb.buffered.start(0), v.currentTime - KEEP_BEHIND_S)
        return
      } catch {
        /* fall through to append */
      }
    }
    let next = this.queue.shift()
    while (next && next.mime) {
      if (next.mime !== this.codec && typeof sb.changeType === 'function') {
        try {
          sb.changeType(next.mime)
          this.codec = next.mime
        } catch (err) {
          this.onError(err)
        }
      }
      next = this.queue.shift()
    }
    if (!next) return
    try {
      sb.appendBuffer(next)
    } catch (err) {
      if (err.name === 'QuotaExceededError') {
        this.queue.unshift(next)
        return
      }
      this.onError(err)
    }
    this._followLive()
  }

  _followLive() {
    const v = this.video
    const b = this.sb?.buffered
    if (!b || !b.length) return
    const start = b.start(0)
    const end = b.end(b.length - 1)
    if (v.currentTime < start) v.currentTime = start
    else if (end - v.currentTime > MAX_LATENCY_S) v.currentTime = Math.max(start, end - 0.5)
    if (v.paused) v.play().catch(() => {})
  }

  _tick() {
    const now = performance.now()
    this.rateWindow.push([now, this.bytes])
    while (this.rateWindow.length > 6) this.rateWindow.shift()
    const [t0, b0] = this.rateWindow[0]
    const bitrate = now > t0 ? ((this.bytes - b0) * 8 * 1000) / (now - t0) : 0
    this.onInfo({ bitrate })
    this._followLive()
  }

  close() {
    this.closed = true
    clearInterval(this.timer)
    if (this.ws) {
      this.ws.onclose = null
      try {
        this.ws.close()
      } catch {
        /* ignore */
      }
    }
    this.ws = null
    try {
      if (this.ms && this.ms.readyState === 'open') this.ms.endOfStream()
    } catch {
      /* ignore */
    }
    if (this.video.src && this.video.src.startsWith('blob:')) URL.revokeObjectURL(this.video.src)
    this.video.removeAttribute('src')
    this.video.load()
  }
}
