// The Parsec Hardhat tasks (docs/dapp.md, docs/relayer.md). hardhat.config.ts loads them with `import "./tasks";`.
import "./abi";
import "./channel";
import "./cosign";
import "./htlc";
import "./invoice";
import "./node";
import "./pay";

export { parsecNetworks } from "./networks";
