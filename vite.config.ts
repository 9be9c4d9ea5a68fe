import { defineConfig } from 'vite';
import { tanstackStart } from '@tanstack/react-start/plugin/vite';
import viteReact from '@vitejs/plugin-react';

export default defineConfig({
  server: { host: '127.0.0.1' },
  // PGlite ships its own wasm and data files: let Vite serve them as they are.
  optimizeDeps: { exclude: ['@electric-sql/pglite'] },
  plugins: [tanstackStart({ srcDirectory: 'src/app' }), viteReact()],
});
