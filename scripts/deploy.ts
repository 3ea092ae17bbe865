// Deploys ParsecChannels and HashedTimelock (and a TestToken on local chains) and writes
// deployments/<network>.json at the project root: { chainId, ParsecChannels, HashedTimelock, TestToken?,
// blockNumber } (relayer/src/deployment.ts), which the node reads with PARSEC_DEPLOYMENT=<network>.
// Usage: npx hardhat run scripts/deploy.ts --network <name>
import hre from "hardhat";
import { deployParsec } from "../tasks/lib/deploy";

deployParsec(hre).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
