// Runs only the fuzz step of `npm run security` (e.g. to replay a failure):
//   FUZZ_SEED=<seed> FUZZ_RUNS=<steps> npx ts-node --transpile-only scripts/security/fuzz-main.ts
// or, with the Hardhat runtime already loaded: npx hardhat run --no-compile scripts/security/fuzz-main.ts
// Artifacts must be current (npx hardhat compile). Prints the counts as one JSON line.
import { runFuzz } from "./fuzz";

runFuzz()
  .then(({ counts }) => console.log(JSON.stringify({ fuzz: counts })))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
