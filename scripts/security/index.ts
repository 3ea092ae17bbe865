// `npm run security`: Slither on the contracts, then the fuzz step (see docs/security.md).
// Progress and findings go to stderr; the last line on stdout is one JSON object:
//   {"slither":{"high":0,...,"untriaged":0},"fuzz":{...}}
// Exits 1 when Slither has an untriaged High/Medium finding, a fuzz property fails, or a step cannot run.
import { parseArgs } from "node:util";
import { runFuzz } from "./fuzz";
import { runSlither } from "./slither";
import type { SlitherCounts } from "./slither";

const USAGE = `usage: npm run security [-- --slither-only] [-- --no-compile]
  --slither-only   run the Slither step only (the fuzz step is reported as skipped)
  --no-compile     do not run npx hardhat compile first (artifacts/build-info must be current)`;

type StepReport = Record<string, number | boolean | string>;

function errorReport(error: unknown): StepReport {
  return { error: error instanceof Error ? error.message : String(error) };
}

async function main(): Promise<void> {
  let values: { "slither-only"?: boolean; "no-compile"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        "slither-only": { type: "boolean", default: false },
        "no-compile": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }

  let failed = false;
  let slither: StepReport;
  try {
    const counts: SlitherCounts = await runSlither({ skipCompile: values["no-compile"] });
    slither = { ...counts };
    if (counts.untriaged > 0) {
      failed = true;
      console.error(
        `security: FAILED: ${counts.untriaged} High/Medium Slither finding(s) above are neither fixed nor triaged`,
      );
    }
  } catch (error) {
    failed = true;
    slither = errorReport(error);
    console.error(`security: the Slither step could not run: ${(error as Error).message}`);
  }

  let fuzz: StepReport;
  if (values["slither-only"]) {
    fuzz = { skipped: true };
  } else {
    try {
      const { counts } = await runFuzz();
      fuzz = { ...counts };
      if ((counts.failed ?? 0) > 0) {
        failed = true;
        console.error(`security: FAILED: ${counts.failed} fuzz propert(ies) did not hold`);
      }
    } catch (error) {
      failed = true;
      fuzz = errorReport(error);
      console.error(`security: the fuzz step failed: ${(error as Error).message}`);
    }
  }

  console.log(JSON.stringify({ slither, fuzz }));
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
