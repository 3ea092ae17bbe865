/**
 * Builds the node for production (`npm run relayer:build`): compiles relayer/ and sdk/ to dist/ with
 * the TypeScript compiler, then copies the Avro schemas the code loads at run time. Run the result
 * with `node dist/relayer/src/main.js`. Without ts-node a node needs far less memory: the verifier
 * threads no longer each carry a TypeScript compiler.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "..");

/** Compiles into `outDir` (default dist/) and copies the schemas; returns the entry point. */
export function buildRelayer(outDir = path.join(root, "dist")): string {
  const tsc = require.resolve("typescript/bin/tsc");
  const r = spawnSync(
    process.execPath,
    [tsc, "-p", path.join(root, "relayer", "tsconfig.build.json"), "--outDir", outDir],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`compiling the relayer failed:\n${r.stdout}${r.stderr}`);
  for (const dir of ["sdk/src/avro/schemas", "relayer/src/state/schemas"]) {
    const to = path.join(outDir, dir);
    fs.mkdirSync(to, { recursive: true });
    for (const f of fs.readdirSync(path.join(root, dir)))
      fs.copyFileSync(path.join(root, dir, f), path.join(to, f));
  }
  return path.join(outDir, "relayer", "src", "main.js");
}

if (require.main === module) {
  const entry = buildRelayer(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  process.stderr.write(`built ${path.relative(root, entry)}\n`);
}
