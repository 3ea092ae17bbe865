// The fuzz step of `npm run security` (issue 9, "Security as a command"): an invariant fuzz of the deployed
// ParsecChannels on Hardhat's in-process chain.
//
// A seeded random sequence of actions runs over a handful of live channels (ETH and one plain TestToken)
// between three participants whose keys the fuzz holds, plus a stranger: opens, deposits on both sides,
// co-signed withdrawals (some overdrawing), transfers of every kind built with the SDK off-chain (PAY, LOCK
// with near and far expiries, UNLOCK, CANCEL, overdrawn PAY/LOCK and premature CANCEL, which the SDK ledger
// refuses but which stay signed and are used as evidence), co-signed checkpoints (newest or stale), head
// proofs (by the payee and by the wrong party), chain pieces (from the on-chain head or earlier, overdrawn
// ones, stale ones), closes, time travel, settles (right and wrong heads), cooperative closes (current,
// stale, expired), equivocation proofs, secret registrations, lock resolutions by payer, payee and stranger
// with and without preimages, and credit withdrawals (a participant's address is made to reject ETH now and
// then, so payouts to it become credits).
//
// After every action the fuzz checks, reading the chain (one call to contracts/test/FuzzLens.sol):
//   (1) the contract's ETH (and token) balance is exactly the live channels' deposits + the settled
//       channels' unresolved lock pots + the outstanding credits (`pendingLocksOf` keeps a pot as the basis
//       of its locks' shares, with a bitmap of resolved locks: what is unresolved is the pot less the shares
//       of the resolved locks, computed from the lock list, which must hash to the root it keeps);
//   (2) per channel, payouts never exceed deposits (and deposits − payouts is what the channel still holds);
//       per participant, what it received never exceeds what went into its channels; every account's
//       balance and credit is exactly what the events say it was paid;
//   (3) a settle pays `settlementOutcome` of the heads the contract holds (and, when the newest signed
//       state of both payers was on-chain and nothing was signed since, the newest state's outcome); a lock
//       resolution pays what `resolveLocksOutcome` says.
// Every action must succeed at least MIN_SUCCESSES times (generators are biased towards valid actions, and
// actions lagging behind their quota are chosen more often). Deterministic: block timestamps follow the
// fuzz's own clock (evm_setNextBlockTimestamp; "time travel" advances it) and gas is free, so a seed and a
// number of steps replay exactly. `FUZZ_SEED` changes the seed, `FUZZ_RUNS` the number of steps (default
// DEFAULT_STEPS); `FUZZ_LOG_FILE` writes the action log of a passing run. A failure throws with the seed,
// the step and the last actions; the whole action log goes to a file (FUZZ_FAILURE_FILE to choose it).
// Standalone: scripts/security/fuzz-main.ts.
//
// Modules: run.ts (the loop), scheduler.ts (which action next), actions/ (the actions by area), world.ts
// (channels and everything signed), books.ts (what the events say everyone holds), heads.ts (what the
// contract holds and what it pays), invariants.ts ((1) and (2)), chain.ts (Hardhat access), report.ts
// (counts and failures), rng.ts (the seeded PRNG), model.ts (shared types), options.ts (options, defaults).
export { runFuzz } from "./run";
export { DEFAULT_SEED, DEFAULT_STEPS, MIN_SUCCESSES } from "./options";
export type { FuzzOptions, FuzzResult } from "./options";
