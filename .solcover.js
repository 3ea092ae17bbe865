// solidity-coverage settings for `npx hardhat coverage` (line coverage of contracts/, target >= 95%).
// The instrumented build compiles with the optimizer off; it needs no Yul optimizer or viaIR to fit the stack.
// Note: with Hardhat 2 the plugin writes its instrumented build into artifacts/ and cache/ (recompiled on the
// next normal compile), so do not run it concurrently with other Hardhat commands in the same checkout.
module.exports = {
  // mocks and harnesses are not measured
  skipFiles: ["test/"],
  mocha: { timeout: 300_000 },
};
