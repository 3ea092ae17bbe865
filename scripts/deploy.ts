// Deploys ParsecChannels and HashedTimelock (and a TestToken on local chains) and writes
// deployments/<network>.json. Usage: npx hardhat run scripts/deploy.ts --network <name>
import hre from "hardhat";
import { deployParsec } from "../tasks/lib/deploy";

deployParsec(hre).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
