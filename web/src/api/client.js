// The one HTTP client of the console. Same-origin `/api`; the bearer token lives
// in memory, mirrored to sessionStorage (this tab only, gone when it closes) so a
// reload does not log the operator out. Never localStorage, never in a URL except
// the WebSocket's `?token=` (browsers cannot set headers on a WebSocket).

const TOKEN_KEY = 'sharpeyes.token'

let token = null
try {
  token = window.sessionStorage.getItem(TOKEN_KEY)
} catch {
  token = null
}
let onUnauthorized = null

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`)
    this.status = status
    this.detail = detail
    this.body = body
  }
}

export function getToken() {
  return token
}

export function setToken(value) {
  token = value || null
  try {
    if (token) window.sessionStorage.setItem(TOKEN_KEY, token)
    else window.sessionStorage.removeItem(TOKEN_KEY)
  } catch {
    /* storage disabled: memory only */
  }
}

/** Called once with a handler run when the API answers 401 to an authenticated call. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn
}

/** FastAPI errors: {detail: "text"} or {detail: [{loc, msg}, …]} (422). */
export function describeDetail(detail) {
  if (detail == null) return ''
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : ''
        return loc ? `${loc}: ${d.msg}` : d.msg
      })
      .join('; ')
  }
  return JSON.stringify(detail)
}

export function buildQuery(params) {
  if (!params) return ''
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => qs.append(k, x))
    else qs.append(k, String(v))
  }
  const s = qs.toString()
  return s ? `?${s}` : ''
}

async function request(method, path, { query, json, form, raw, signal } = {}) {
  const headers = {}
  if (token) headers.Authorization = `Bearer ${token}`
  let body
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(json)
  } else if (form !== undefined) {
    body = form // FormData: the browser sets the multipart boundary
  }
  const resp = await fetch(`/api${path}${buildQuery(query)}`, {
    method,
    headers,
    body,
    signal,
    credentials: 'same-origin',
  })
  if (!resp.ok) {
    let data = null
    try {
      data = await resp.json()
    } catch {
      data = null
    }
    if (resp.status === 401 && token && onUnauthorized && !path.startsWith('/auth/login')) {
      onUnauthorized()
    }
    throw new ApiError(resp.status, describeDetail(data?.detail) || resp.statusText, data)
  }
  if (raw) return resp
  if (resp.status === 204) return null
  const type = resp.headers.get('content-type') || ''
  return type.includes('json') ? resp.json() : resp.text()
}

export const api = {
  get: (path, query, opts) => request('GET', path, { query, ...opts }),
  post: (path, json, opts) => request('POST', path, { json, ...opts }),
  patch: (path, json, opts) => request('PATCH', path, { json, ...opts }),
  put: (path, json, opts) => request('PUT', path, { json, ...opts }),
  del: (path, opts) => request('DELETE', path, opts),
  upload: (path, form, opts) => request('POST', path, { form, ...opts }),
  raw: (method, path, opts) => request(method, path, { raw: true, ...opts }),
}

/** Fetch every page of a paginated list ({items,total,offset,limit}). */
export async function fetchAll(path, query = {}, pageSize = 1000, max = 20000) {
  const out = []
  let offset = 0
  for (;;) {
    const page = await api.get(path, { ...query, offset, limit: pageSize })
    out.push(...page.items)
    offset += page.items.length
    if (page.items.length === 0 || offset >= page.total || offset >= max) break
  }
  return out
}

/** Download an authenticated file (export, template) through a blob URL. */
export async function download(path, query, fallbackName) {
  const resp = await api.raw('GET', path, { query })
  const blob = await resp.blob()
  const cd = resp.headers.get('content-disposition') || ''
  let name = fallbackName
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
  const plain = /filename="?([^";]+)"?/i.exec(cd)
  if (star) name = decodeURIComponent(star[1])
  else if (plain) name = plain[1]
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
  return name
}
