import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The node serves web/dist itself (src/sharpeyes/api/static.py); the API is
// same-origin under /api. `npm run dev` proxies /api to a node on :8080.
export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (!id.includes('node_modules')) return undefined
          if (id.includes('echarts-china-map')) return 'basemap'
          if (id.includes('echarts') || id.includes('zrender')) return 'echarts'
          if (id.includes('element-plus') || id.includes('@element-plus')) return 'element'
          if (id.includes('leaflet')) return 'leaflet'
          if (id.includes('hls.js')) return 'hls'
          return 'vendor'
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true, changeOrigin: false },
    },
  },
})
