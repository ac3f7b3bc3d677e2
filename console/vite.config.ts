import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into the Python package, which serves it at /console (src/callplane/api/console.py).
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "../src/callplane/console_static",
    emptyOutDir: true,
  },
});
