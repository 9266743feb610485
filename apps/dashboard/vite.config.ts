import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The dashboard is served by the gateway at `/` from dist/web (see services/gateway: FB_DASHBOARD_DIR).
// Everything is bundled: no external fonts, CDNs or network calls beyond the gateway.
// `npx vite` (dev) proxies the API to a running gateway: FB_GATEWAY_URL, default http://127.0.0.1:8080.
const gateway = process.env.FB_GATEWAY_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: 'web',
  base: '/',
  plugins: [react()],
  // One React for the app and @farmbrain/react (a workspace package resolving react on its own).
  resolve: { dedupe: ['react', 'react-dom'] },
  server: { proxy: { '/v1': { target: gateway, changeOrigin: true }, '/docs': gateway } },
  build: { outDir: '../dist/web', emptyOutDir: true, sourcemap: true, target: 'es2022', chunkSizeWarningLimit: 400 },
});
