// HLS fallback: hls.js (over MSE), or the browser's native HLS where hls.js cannot run.

export class HlsPlayer {
  constructor(video, { onInfo, onError } = {}) {
    this.video = video
    this.onInfo = onInfo || (() => {})
    this.onError = onError || (() => {})
    this.hls = null
    this.closed = false
  }

  async start(url) {
    const v = this.video
    // hls.js wherever MSE exists (its live handling is the one we test); the
    // browser's own HLS only where hls.js cannot run (iOS Safari).
    const { default: Hls } = await import('hls.js')
    if (this.closed) return
    if (!Hls.isSupported()) {
      if (v.canPlayType('application/vnd.apple.mpegurl')) {
        v.src = url
        v.play().catch(() => {})
      } else {
        this.onError(new Error('HLS is not supported by this browser'))
      }
      return
    }
    // The playlist URL carries the short-lived stream token; the node repeats it
    // in every segment URI, so no header is needed.
    const hls = new Hls({ lowLatencyMode: true, liveSyncDurationCount: 2 })
    this.hls = hls
    hls.on(Hls.Events.FRAG_LOADED, (_, data) => {
      const s = data.frag.stats
      const ms = s.loading.end - s.loading.start
      const dur = data.frag.duration
      if (dur > 0) this.onInfo({ bitrate: (s.total * 8) / dur, loadMs: ms })
    })
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      const level = data.levels?.[0]
      if (level?.codecSet || level?.videoCodec) this.onInfo({ codec: level.videoCodec || level.codecSet })
      v.play().catch(() => {})
    })
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.fatal) this.onError(new Error(`HLS: ${data.details}`))
    })
    hls.loadSource(url)
    hls.attachMedia(v)
  }

  close() {
    this.closed = true
    this.hls?.destroy()
    this.hls = null
    this.video.removeAttribute('src')
    this.video.load()
  }
}
