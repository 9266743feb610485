import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The dashboard is served by the gateway at `/` from dist/web (see services/gateway: FB_DASHBOARD_DIR).
// Everything is bundled: no external fonts, CDNs or network calls beyond the gateway.
export default defineConfig({
  root: 'web',
  base: '/',
  plugins: [react()],
  build: { outDir: '../dist/web', emptyOutDir: true, sourcemap: true },
});
