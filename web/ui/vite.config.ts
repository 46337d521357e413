import { defineConfig } from 'vite';

/**
 * The browser app. Built into web/ui/dist and served by web/http-server.ts; every asset
 * (Monaco, its workers, the codicon font) ends up in dist so the page never reaches another host.
 * `npm run dev:ui` proxies /api to a running switch on 127.0.0.1:8080.
 */
export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Monaco's language service is one big lazy chunk; it is only fetched by the editor page.
    chunkSizeWarningLimit: 8000,
    // Fonts and images as files, not data: URIs, so the CSP needs no data: source.
    assetsInlineLimit: 0,
    sourcemap: false,
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  worker: { format: 'es' },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
});
