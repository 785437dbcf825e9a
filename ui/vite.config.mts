import { resolve } from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = import.meta.dirname;

// Served by Falconer itself at /ui (same port as the API): hashed files under dist/ui/assets get
// long-cache headers there, index.html is revalidated. Nothing is inlined into the HTML, because the
// console's Content-Security-Policy allows scripts and styles from 'self' only.
export default defineConfig({
  root: here,
  base: '/ui/',
  plugins: [preact()],
  // `npx vite --config ui/vite.config.mts`: the pages with hot reload at http://localhost:5173/ui/, the
  // API from a running Falconer (FALCONER_URL, default http://127.0.0.1:2804). Development only: the
  // dev server injects inline scripts that the console's CSP would refuse.
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/ui/session'].map((path) => [path, { target: process.env.FALCONER_URL ?? 'http://127.0.0.1:2804' }]),
    ),
  },
  build: {
    outDir: resolve(here, '../dist/ui'),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 700,
  },
});
