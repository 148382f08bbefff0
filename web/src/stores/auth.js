// Who is logged in. The token itself is kept by api/client.js.
import { reactive } from 'vue'
import { api, getToken, setToken } from '../api/client.js'
import { startEvents, stopEvents } from '../api/events.js'

export const auth = reactive({ user: null, checked: false })

export function isAdmin() {
  return auth.user?.role === 'admin'
}

/**
 * May the user do ``perm`` (a sharing Permission value such as 'devices.write')?
 * Answers from the ``permissions`` /api/auth/me returns (sharing.scope decides them on the
 * server), so the console never keeps its own copy of the role matrix.
 */
export function can(perm) {
  return Boolean(auth.user?.permissions?.includes(perm))
}

export async function login(username, password) {
  const out = await api.post('/auth/login', { username, password })
  setToken(out.access_token)
  // /auth/me carries the effective permissions can() reads; the login answer does not.
  auth.user = { ...out.user, ...(await api.get('/auth/me')) }
  auth.checked = true
  startEvents(getToken)
  return out.user
}

/** On start: a token kept by this tab is checked once against /auth/me. */
export async function restore() {
  if (auth.checked) return auth.user
  auth.checked = true
  if (!getToken()) return null
  try {
    auth.user = await api.get('/auth/me')
    startEvents(getToken)
  } catch {
    setToken(null)
    auth.user = null
  }
  return auth.user
}

export function logout() {
  stopEvents()
  setToken(null)
  auth.user = null
}
