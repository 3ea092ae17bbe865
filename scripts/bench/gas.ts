// Gas of every channel operation on the in-process Hardhat chain, through the SDK exactly as the relayer,
// tasks and dapp use it. Prints one JSON object (gas used by the transaction, integers).
import hre from "hardhat";
import { Wallet, hexlify, parseEther, randomBytes } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import * as parsec from "../../sdk";
import type { HashedTimelock, ParsecChannels, TestToken } from "../../typechain-types";
import { HARDFORK, SOLC_VERSION } from "../../hardhat.config";

const { ethers } = hre;
const DAY = 86_400;
// Realistic amounts: calldata gas depends on how many bytes of a value are non-zero.
const DEPOSIT = parseEther("1");
const MICRO_PAYMENT = 1_000_000_000_000n; // 1,000 gwei
const LOCK_AMOUNT = 10_000_000_000_000_000n; // 0.01 ETH
const CHAIN_LENGTH = 50;
const LOCKS = 11;

type Outcome = Record<string, number | string | Record<string, number>>;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("the transaction has no receipt");
  return Number(receipt.gasUsed);
}

async function main(): Promise<void> {
  const [funder] = await ethers.getSigners();
  const alice = Wallet.createRandom().connect(ethers.provider);
  const bob = Wallet.createRandom().connect(ethers.provider);
  for (const w of [alice, bob])
    await (await funder.sendTransaction({ to: w.address, value: parseEther("1000") })).wait();
  // Benchmark keys never outlive the process: an in-memory signing journal is enough.
  const signers = [
    parsec.journaledTransferSigner(
      parsec.localSigner(alice.privateKey as parsec.Hex),
      parsec.memoryJournal(),
    ),
    parsec.journaledTransferSigner(parsec.localSigner(bob.privateKey as parsec.Hex), parsec.memoryJournal()),
  ];

  const channels = (await (
    await ethers.getContractFactory("ParsecChannels")
  ).deploy()) as unknown as ParsecChannels;
  const { chainId } = await ethers.provider.getNetwork();
  const domain = parsec.parsecDomain(chainId, parsec.toAddress(await channels.getAddress()));
  const now = async (): Promise<bigint> => BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
  let nonce = 0n;

  /** Opens an ETH channel funded by both sides; returns its ledger and the gas of the open. */
  const openChannel = async () => {
    const params: parsec.ChannelParams = {
      participant0: parsec.toAddress(alice.address),
      participant1: parsec.toAddress(bob.address),
      asset: parsec.ZERO_ADDRESS,
      challengePeriod: DAY,
      nonce: ++nonce,
    };
    const gas = await gasOf(
      channels.connect(alice).openEth(bob.address, DAY, params.nonce, { value: DEPOSIT }),
    );
    const ledger = new parsec.ChannelLedger({ domain, params, deposit0: DEPOSIT, deposit1: DEPOSIT });
    await (await channels.connect(bob).deposit(ledger.channelId, 1, { value: DEPOSIT })).wait();
    return { ledger, gas };
  };
  const pay = async (ledger: parsec.ChannelLedger, payer: 0 | 1, op: parsec.TransferOp) => {
    const t = parsec.buildTransfer(ledger.state(payer), { channelId: ledger.channelId, payer }, op);
    return ledger.apply(await parsec.signTransfer(signers[payer], domain, t));
  };
  const cosign = (ledger: parsec.ChannelLedger) => parsec.cosignCheckpoint(ledger, signers[0], signers[1]);
  const onchainState = async (ledger: parsec.ChannelLedger) =>
    parsec.onchainStateOf(
      await channels.channelState(ledger.channelId),
      await channels.provenHeadsOf(ledger.channelId),
    );
  const onchain = async (ledger: parsec.ChannelLedger) =>
    parsec.onchainHeads(ledger, await onchainState(ledger));
  const closeAndWait = async (ledger: parsec.ChannelLedger) => {
    await (await channels.connect(alice).close(ledger.params)).wait();
    await ethers.provider.send("evm_increaseTime", [DAY]);
  };

  const out: Outcome = { hardfork: HARDFORK, solc: SOLC_VERSION };

  // Open, then the other side tops up.
  const first = await openChannel();
  out.openChannelEth = first.gas;
  out.deposit = await gasOf(
    channels.connect(bob).deposit(first.ledger.channelId, 1, { value: parseEther("0.5") }),
  );

  // Checkpoint: a channel's first commit, and the steady-state update the relayer sends every m-th transfer.
  await pay(first.ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
  await pay(first.ledger, 1, { kind: "PAY", amount: MICRO_PAYMENT });
  out.checkpointFirst = await gasOf(
    channels.checkpoint(...parsec.checkpointArgs(first.ledger.params, await cosign(first.ledger))),
  );
  await pay(first.ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
  out.checkpoint = await gasOf(
    channels.checkpoint(...parsec.checkpointArgs(first.ledger.params, await cosign(first.ledger))),
  );

  // Batches of checkpoints over many channels, first commits and steady-state updates.
  const perChannel: Record<string, number> = {};
  const perChannelFirst: Record<string, number> = {};
  for (const n of [1, 10, 100]) {
    const ledgers: parsec.ChannelLedger[] = [];
    for (let i = 0; i < n; i++) ledgers.push((await openChannel()).ledger);
    const batch = async () => {
      const entries = [];
      for (const ledger of ledgers) {
        await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
        entries.push({ params: ledger.params, checkpoint: await cosign(ledger) });
      }
      return Math.round((await gasOf(channels.checkpointBatch(...parsec.checkpointBatchArgs(entries)))) / n);
    };
    perChannelFirst[String(n)] = await batch();
    perChannel[String(n)] = await batch();
  }
  out.checkpointBatchPerChannel = perChannel;
  out.checkpointBatchPerChannelFirstCommit = perChannelFirst;

  // Cooperative close.
  {
    const { ledger } = await openChannel();
    const split = {
      channelId: ledger.channelId,
      seq0: 0,
      seq1: 0,
      balance0: parseEther("0.7"),
      balance1: parseEther("1.3"),
      expiry: (await now()) + 3600n,
    };
    const [sig0, sig1] = await Promise.all(signers.map((s) => parsec.signCooperativeClose(s, domain, split)));
    out.cooperativeClose = await gasOf(
      channels.cooperativeClose(...parsec.cooperativeCloseArgs(ledger.params, split, sig0, sig1)),
    );
  }

  // Unilateral close and settle, no dispute, from a checkpointed state.
  {
    const { ledger } = await openChannel();
    await pay(ledger, 0, { kind: "PAY", amount: parseEther("0.2") });
    await pay(ledger, 1, { kind: "PAY", amount: parseEther("0.1") });
    await (await channels.checkpoint(...parsec.checkpointArgs(ledger.params, await cosign(ledger)))).wait();
    const close = await gasOf(channels.connect(alice).close(ledger.params));
    await ethers.provider.send("evm_increaseTime", [DAY]);
    const settle = await gasOf(
      channels.settle(...parsec.settleArgsFromLedger(ledger, await onchain(ledger))),
    );
    out.unilateralCloseAndSettle = close + settle;
    out.unilateralClose = close;
    out.settle = settle;
  }

  // Dispute path: marginal gas per verified transfer, a chain of 50 against a chain of 1.
  {
    const extend = async (length: number) => {
      const { ledger } = await openChannel();
      for (let i = 0; i < length; i++)
        await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT + BigInt(i) });
      const [args] = parsec.chainProof(ledger, 0, await onchain(ledger), { maxTransfersPerPiece: length });
      return gasOf(channels.connect(bob).extendChain(...args));
    };
    const one = await extend(1);
    const many = await extend(CHAIN_LENGTH);
    out.disputeChain50 = many;
    out.disputeChainPerTransfer = Math.round((many - one) / (CHAIN_LENGTH - 1));
  }

  // Early release of a lock the payee consents to (protocol §4.5): a piece [LOCK, CANCEL] from the
  // on-chain head with the payee's consent, sent before the lock's expiry; and the same piece after expiry
  // through plain extendChain, so the difference is what the consent costs (69 calldata bytes, one
  // struct hash, one ecrecover).
  {
    const piece = async (expiry: bigint) => {
      const { ledger } = await openChannel();
      await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
      await (await channels.checkpoint(...parsec.checkpointArgs(ledger.params, await cosign(ledger)))).wait();
      const hashlock = parsec.hashlockOf(hexlify(randomBytes(32)) as parsec.Hash);
      const lock = { amount: LOCK_AMOUNT, expiry, hashlock };
      await pay(ledger, 0, { kind: "LOCK", ...lock });
      const cancel = parsec.buildTransfer(
        ledger.state(0),
        { channelId: ledger.channelId, payer: 0 },
        {
          kind: "CANCEL",
          lock,
        },
      );
      ledger.addCancelConsent(await parsec.signCancelConsent(signers[1], domain, cancel));
      ledger.apply(await parsec.signTransfer(signers[0], domain, cancel));
      return ledger;
    };
    const early = await piece((await now()) + BigInt(30 * DAY));
    const [step] = parsec.planDisputeWithConsents(
      { ledger: early, checkpoint: null },
      await onchainState(early),
      {
        payers: [0],
      },
    );
    if (step?.method !== "extendChainUsingConsentedCancels") throw new Error("expected a consented piece");
    out.earlyCancelWithConsent = await gasOf(
      channels.connect(alice).extendChainUsingConsentedCancels(...step.args),
    );
    const late = await piece((await now()) + 60n);
    await ethers.provider.send("evm_increaseTime", [120]);
    const [plain] = parsec.chainProof(late, 0, await onchain(late));
    const lateCancel = await gasOf(channels.connect(alice).extendChain(...plain));
    out.lateCancelWithoutConsent = lateCancel;
    out.cancelConsentOverhead = out.earlyCancelWithConsent - lateCancel;
  }

  // HTLC locks resolved after settlement: marginal gas per lock, preimages shown in the call or registered.
  {
    const resolve = async (count: number, viaRegistry: boolean) => {
      const { ledger } = await openChannel();
      const expiry = (await now()) + BigInt(30 * DAY);
      const preimages: parsec.Hash[] = [];
      for (let i = 0; i < count; i++) {
        const preimage = hexlify(randomBytes(32)) as parsec.Hash;
        preimages.push(preimage);
        await pay(ledger, 0, {
          kind: "LOCK",
          amount: LOCK_AMOUNT + BigInt(i),
          hashlock: parsec.hashlockOf(preimage),
          expiry,
        });
      }
      await (await channels.checkpoint(...parsec.checkpointArgs(ledger.params, await cosign(ledger)))).wait();
      if (viaRegistry) await (await channels.registerSecrets(preimages)).wait();
      await closeAndWait(ledger);
      await (await channels.settle(...parsec.settleArgsFromLedger(ledger, await onchain(ledger)))).wait();
      const locks = ledger.state(0).locks;
      return gasOf(
        channels.resolveLocks(
          ...parsec.resolveLocksArgs(ledger.params, 0, locks, viaRegistry ? [] : preimages),
        ),
      );
    };
    out.htlcUnlockPerLock = Math.round(
      ((await resolve(LOCKS, false)) - (await resolve(1, false))) / (LOCKS - 1),
    );
    out.htlcUnlockPerLockViaRegistry = Math.round(
      ((await resolve(LOCKS, true)) - (await resolve(1, true))) / (LOCKS - 1),
    );
  }

  // Figures measured without a target.
  {
    const token = (await (
      await ethers.getContractFactory("TestToken")
    ).deploy("Test", "TST", 18)) as unknown as TestToken;
    await (await token.mint(alice.address, parseEther("100"))).wait();
    await (await token.connect(alice).approve(await channels.getAddress(), parseEther("100"))).wait();
    out.openChannelErc20 = await gasOf(
      channels.connect(alice).openToken(bob.address, await token.getAddress(), DAY, ++nonce, parseEther("1")),
    );

    const { ledger } = await openChannel();
    await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
    await (await channels.checkpoint(...parsec.checkpointArgs(ledger.params, await cosign(ledger)))).wait();
    await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
    const proof = parsec.headProof(ledger, 0, await onchain(ledger));
    out.headProof = await gasOf(channels.connect(bob).proveHead(...parsec.proveHeadArgs(proof)));
    // A payer's first head proof writes its proven word fresh; later ones update it.
    await pay(ledger, 0, { kind: "PAY", amount: MICRO_PAYMENT });
    const again = parsec.headProof(ledger, 0, await onchain(ledger));
    out.headProofRepeat = await gasOf(channels.connect(bob).proveHead(...parsec.proveHeadArgs(again)));

    const withdrawal = {
      channelId: ledger.channelId,
      nonce: 0,
      amount0: parseEther("0.1"),
      amount1: parseEther("0.2"),
      expiry: (await now()) + BigInt(DAY),
    };
    const [w0, w1] = await Promise.all(signers.map((s) => parsec.signWithdraw(s, domain, withdrawal)));
    out.cooperativeWithdraw = await gasOf(
      channels.withdraw(...parsec.withdrawArgs(ledger.params, withdrawal, w0, w1)),
    );

    const htlc = (await (
      await ethers.getContractFactory("HashedTimelock")
    ).deploy()) as unknown as HashedTimelock;
    const preimage = hexlify(randomBytes(32)) as parsec.Hash;
    const lockTx = await htlc.lock(
      bob.address,
      parsec.ZERO_ADDRESS,
      parseEther("1"),
      parsec.hashlockOf(preimage),
      (await now()) + BigInt(DAY),
      {
        value: parseEther("1"),
      },
    );
    const receipt = await lockTx.wait();
    out.hashedTimelockLock = Number(receipt?.gasUsed ?? 0n);
    const locked = receipt?.logs.map((log) => htlc.interface.parseLog(log)).find((e) => e?.name === "Locked");
    out.hashedTimelockClaim = await gasOf(htlc.connect(bob).claim(locked?.args.id as string, preimage));
  }

  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
