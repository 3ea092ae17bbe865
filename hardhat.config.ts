import path from "node:path";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import { parsecNetworks } from "./tasks";

/** The one compiler version the project uses; `solc` in package.json is pinned to it. */
export const SOLC_VERSION = "0.8.28";
/** The hardfork the in-process chain runs and the gas benchmark reports. */
export const HARDFORK = "prague";

// Hardhat would download solc; these machines have no internet, so compile with the solcjs
// build shipped in the npm package `solc` (pinned to SOLC_VERSION).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  const longVersion = solc.version().replace(/\.Emscripten\.clang$/, "");
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 1000 },
      evmVersion: "cancun",
    },
  },
  networks: {
    hardhat: { hardfork: HARDFORK },
    ...parsecNetworks(),
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: { enabled: process.env.REPORT_GAS === "1" },
  mocha: { timeout: 120_000 },
};

export default config;
