// The Parsec Hardhat tasks (docs/dapp.md). hardhat.config.ts loads them with `import "./tasks";`.
import "./abi";
import "./channel";
import "./htlc";

export { parsecNetworks } from "./networks";
