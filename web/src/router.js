import { createRouter, createWebHistory } from 'vue-router'
import { can, restore } from './stores/auth.js'
import { setUnauthorizedHandler } from './api/client.js'
import { logout } from './stores/auth.js'

const Layout = () => import('./views/AppLayout.vue')

const routes = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  {
    path: '/',
    component: Layout,
    children: [
      { path: '', redirect: { name: 'dashboard' } },
      { path: 'dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue') },
      { path: 'resources', name: 'resources', component: () => import('./views/ResourcesView.vue') },
      { path: 'map', name: 'map', component: () => import('./views/MapView.vue') },
      { path: 'live', name: 'live', component: () => import('./views/LiveView.vue') },
      { path: 'playback', name: 'playback', component: () => import('./views/PlaybackView.vue') },
      { path: 'recording/plans', name: 'plans', component: () => import('./views/RecordPlansView.vue') },
      { path: 'ledger', name: 'ledger', component: () => import('./views/LedgerView.vue') },
      { path: 'ledger/import', name: 'ledger-import', component: () => import('./views/LedgerImportView.vue') },
      { path: 'ledger/cameras/:id', name: 'ledger-camera', component: () => import('./views/CameraRecordView.vue'), props: true },
      { path: 'proxies', name: 'proxies', component: () => import('./views/ProxiesView.vue') },
      { path: 'alarms', name: 'alarms', component: () => import('./views/AlarmsView.vue') },
      { path: 'om', name: 'om', component: () => import('./views/OmView.vue') },
      { path: 'devices/:id', name: 'device', component: () => import('./views/DeviceDetailView.vue'), props: true },
      { path: 'sharing', name: 'sharing', component: () => import('./views/SharingView.vue') },
      { path: 'audit', name: 'audit', component: () => import('./views/AuditView.vue') },
      // --- issue 17 (console)
      { path: 'devices', name: 'devmgmt', component: () => import('./views/DeviceManagementView.vue') },
      { path: 'reconciliation', name: 'recon', component: () => import('./views/ReconciliationView.vue') },
      { path: 'ledger/data/:kind?', name: 'ledger-data', component: () => import('./views/LedgerDataView.vue'), props: true },
      // --- end issue 17
      { path: 'admin/apps', name: 'apps', component: () => import('./views/AppsView.vue'), meta: { permission: 'apps.admin' } },
      { path: 'admin/users', name: 'users', component: () => import('./views/UsersView.vue'), meta: { permission: 'users.admin' } },
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
