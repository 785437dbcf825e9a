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
  build: {
    outDir: resolve(here, '../dist/ui'),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 700,
  },
});
