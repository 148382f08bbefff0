// Names of civil codes (GB/T 2260 + local codes) from the ledger's region table.
// Names are fetched by listing the children of each parent (a 200 answer even
// when the code is not in the table — no 404s in the console), once per parent.
import { reactive } from 'vue'
import { fetchAll } from '../api/client.js'

export const regionNames = reactive({})
const listed = new Map()

function significant(code) {
  let c = code
  if (c.length === 6) while (c.length > 2 && c.endsWith('00')) c = c.slice(0, -2)
  return c
}

function parentOf(code) {
  const c = significant(code)
  if (c.length <= 2) return ''
  if (c.length <= 4) return c.slice(0, 2)
  if (c.length <= 6) return c.slice(0, 4)
  return significant(c.slice(0, 6))
}

function loadChildren(parent) {
  if (!listed.has(parent)) {
    const p = fetchAll('/ledger/regions', parent ? { parent } : {}, 1000, 5000)
      .then((items) => {
        for (const r of items) regionNames[r.code] = r.name
      })
      .catch(() => {})
    listed.set(parent, p)
  }
  return listed.get(parent)
}

/** Name of a civil code, or the code itself until (or unless) it is known. */
export function regionName(code) {
  if (!code) return ''
  const sig = significant(code)
  if (!(sig in regionNames)) loadChildren(parentOf(sig))
  return regionNames[sig] || code
}

/** The prefixes a civil code is shown under in the tree: province, city, county, itself. */
export function civilPath(code) {
  const out = []
  for (const n of [2, 4, 6]) if (code.length > n) out.push(code.slice(0, n))
  out.push(code)
  return out
}
