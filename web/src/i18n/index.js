import { createI18n } from 'vue-i18n'
import zhCN from './zh-CN.js'
import en from './en.js'
// --- issue 17 (console) messages: a separate block, merged below
import { zhCN17, en17 } from './console17.js'
Object.assign(zhCN, zhCN17)
Object.assign(en, en17)
// --- end issue 17
import { zhCNSharing2, enSharing2 } from './sharing2.js'
Object.assign(zhCN, zhCNSharing2)
Object.assign(en, enSharing2)

const KEY = 'sharpeyes.lang'
function initial() {
  try {
    const saved = window.localStorage.getItem(KEY) // a UI preference, not a secret
    if (saved === 'en' || saved === 'zh-CN') return saved
  } catch {
    /* ignore */
  }
  return 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function setLang(lang) {
  i18n.global.locale.value = lang
  document.documentElement.lang = lang
  try {
    window.localStorage.setItem(KEY, lang)
  } catch {
    /* ignore */
  }
}
