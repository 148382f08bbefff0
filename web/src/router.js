import { createRouter, createWebHistory } from 'vue-router'
import { can, restore } from './stores/auth.js'
import { setUnauthorizedHandler } from './api/client.js'
import { logout } from './stores/auth.js'

const Layout = () => import('./views/AppLayout.vue')

// A child route with ``meta.nav`` (its place in the menu) appears in the side menu when the
// user has ``meta.permission`` (if any); ``meta.label`` overrides the i18n key nav.<name>,
// ``meta.navOf`` names the menu item a sub-page lights up.  Adding a page is one line here.
const routes = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  {
    path: '/',
    component: Layout,
    children: [
      { path: '', redirect: { name: 'dashboard' } },
      { path: 'dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue'), meta: { nav: 10 } },
      { path: 'resources', name: 'resources', component: () => import('./views/ResourcesView.vue'), meta: { nav: 20 } },
      { path: 'map', name: 'map', component: () => import('./views/MapView.vue'), meta: { nav: 40 } },
      { path: 'live', name: 'live', component: () => import('./views/LiveView.vue'), meta: { nav: 60 } },
      { path: 'playback', name: 'playback', component: () => import('./views/PlaybackView.vue'), meta: { nav: 50, permission: 'playback' } },
      { path: 'recording/plans', name: 'plans', component: () => import('./views/RecordPlansView.vue'), meta: { nav: 55, permission: 'playback' } },
      { path: 'ledger', name: 'ledger', component: () => import('./views/LedgerView.vue'), meta: { nav: 70 } },
      { path: 'ledger/import', name: 'ledger-import', component: () => import('./views/LedgerImportView.vue'), meta: { navOf: 'ledger' } },
      { path: 'ledger/cameras/:id', name: 'ledger-camera', component: () => import('./views/CameraRecordView.vue'), meta: { navOf: 'ledger' }, props: true },
      { path: 'proxies', name: 'proxies', component: () => import('./views/ProxiesView.vue'), meta: { nav: 80 } },
      { path: 'alarms', name: 'alarms', component: () => import('./views/AlarmsView.vue'), meta: { nav: 90 } },
      { path: 'om', name: 'om', component: () => import('./views/OmView.vue'), meta: { nav: 100 } },
      { path: 'devices/:id', name: 'device', component: () => import('./views/DeviceDetailView.vue'), meta: { navOf: 'resources' }, props: true },
      { path: 'sharing', name: 'sharing', component: () => import('./views/SharingView.vue'), meta: { nav: 110, permission: 'sharing.read' } },
      { path: 'audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { nav: 120, permission: 'audit.read' } },
      // --- issue 17 (console)
      { path: 'devices', name: 'devmgmt', component: () => import('./views/DeviceManagementView.vue'), meta: { nav: 25, permission: 'devices.write', label: 'nav17.devmgmt' } },
      { path: 'reconciliation', name: 'recon', component: () => import('./views/ReconciliationView.vue'), meta: { nav: 30, permission: 'devices.write', label: 'nav17.recon' } },
      { path: 'ledger/data/:kind?', name: 'ledger-data', component: () => import('./views/LedgerDataView.vue'), meta: { nav: 75, label: 'nav17.ledgerPages' }, props: true },
      // --- end issue 17
      { path: 'admin/cascade', name: 'cascade', component: () => import('./views/CascadeView.vue'), meta: { nav: 135, permission: 'users.admin', label: 'cascade.nav' } },
      { path: 'admin/apps', name: 'apps', component: () => import('./views/AppsView.vue'), meta: { nav: 140, permission: 'apps.admin', label: 'apps.nav' } },
      { path: 'admin/users', name: 'users', component: () => import('./views/UsersView.vue'), meta: { nav: 130, permission: 'users.admin' } },
    ],
  },
  { path: '/:rest(.*)*', redirect: { name: 'dashboard' } },
]

export const router = createRouter({ history: createWebHistory('/'), routes })

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  const user = await restore()
  if (!user) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.meta.permission && !can(to.meta.permission)) return { name: 'dashboard' }
  return true
})

setUnauthorizedHandler(() => {
  logout()
  const here = router.currentRoute.value
  if (here.name !== 'login') router.replace({ name: 'login', query: { next: here.fullPath } })
})
