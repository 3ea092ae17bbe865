// The dapp's build: `vite --config app/vite.config.ts` (dev) or `vite build --config app/vite.config.ts`.
// Build-time settings come from VITE_PARSEC_* variables (docs/dapp.md); query parameters override them.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const appDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(appDir, "..");

export default defineConfig({
  root: appDir,
  envDir: repoRoot,
  // Relative asset URLs: the build can be served from any path (IPFS, a sub-folder).
  base: "./",
  server: {
    host: "127.0.0.1",
    port: 5173,
    // The app imports the SDK and deployments/ from outside app/.
    fs: { allow: [repoRoot] },
  },
  preview: { host: "127.0.0.1", port: 4173 },
  build: {
    outDir: path.join(appDir, "dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1500,
  },
});
