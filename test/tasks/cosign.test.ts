// channel:cosign-close on the in-process chain: the counterparty's signature from a key or a keystore, in
// the JSON channel:close --cooperative --signature takes, accepted by the contract; bad input in words.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { encryptKeystoreJsonSync, parseEther, Wallet } from "ethers";
import { type Deployment, ChannelStatus } from "../../client";
import type { Hash } from "../../sdk/isomorphic";
import type { CosignResult } from "../../tasks/cosign";
import { deployParsec } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";

describe("channel:cosign-close", function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-cosign-"));
  const deploymentPath = path.join(tmp, "hardhat.json");
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;
  let deployment: Deployment;
  let alice: string;
  // The counterparty is not an account of the network: only its key (or keystore) can sign for it.
  const carol = new Wallet(Wallet.createRandom().privateKey);
  const keystore = path.join(tmp, "carol.json");
  let nonce = 100;

  const run = <T>(name: string, args: Record<string, unknown> = {}): Promise<T> =>
    hre.run(name, { deployment: deploymentPath, ...args }) as Promise<T>;
  const failure = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    expect.fail("the task should have failed");
  };
  const open = async (): Promise<Hash> => {
    const opened = await run<{ channelId: Hash }>("channel:open", {
      counterparty: carol.address,
      amount: "1",
      period: 3600,
      nonce: String(nonce++),
    });
    return opened.channelId;
  };
  const status = async (id: Hash): Promise<number> => {
    const channels = await hre.ethers.getContractAt("ParsecChannels", deployment.ParsecChannels);
    return Number((await channels.channelState(id)).record.status);
  };

  before(async function () {
    restorePrinter = setPrinter((line) => lines.push(line));
    deployment = await deployParsec(hre, { outFile: deploymentPath });
    alice = (await hre.ethers.getSigners())[0].address;
    fs.writeFileSync(keystore, encryptKeystoreJsonSync(carol, "s3cret", { scrypt: { N: 1024 } }));
  });
  after(() => {
    setPrinter(restorePrinter);
    fs.rmSync(tmp, { recursive: true, force: true });
    delete process.env.CAROL_PASSWORD;
  });
  beforeEach(() => (lines.length = 0));

  it("co-signs the close the other side proposed (keystore); channel:close --cooperative takes it and the contract pays out", async function () {
    const id = await open();
    // Alice proposes: channel:close signs her side and stops, asking for the counterparty's signature.
    const asked = await failure(run("channel:close", { channel: id, cooperative: true, balance0: "0.6" }));
    expect(asked).to.contain("signature is needed");
    const proposal = lines.find((l) => l.includes("your signed close: "))?.split("your signed close: ")[1];
    expect(proposal).to.be.a("string");

    lines.length = 0;
    process.env.CAROL_PASSWORD = "s3cret";
    const signed = await run<CosignResult>("channel:cosign-close", {
      close: proposal,
      keystore,
      passwordEnv: "CAROL_PASSWORD",
    });
    expect(signed.signer).to.equal(carol.address);
    const out = lines.join("\n");
    expect(out).to.contain("the other participant's signature on these terms checks out");
    expect(out).to.contain(`as P1 ${carol.address}: P0 0.6 ETH, P1 0.4 ETH, at seqs (0, 0)`);
    expect(out).to.contain(`signed close: ${signed.json}`);
    expect(out).to.contain(
      `channel:close --channel ${id} --cooperative --balance0 0.6 --balance1 0.4 --signature`,
    );

    const before = await hre.ethers.provider.getBalance(carol.address);
    const tx = await run<{ gasUsed: bigint }>("channel:close", {
      channel: id,
      cooperative: true,
      balance0: "0.6",
      balance1: "0.4",
      signature: signed.json,
    });
    expect(tx.gasUsed > 0n).to.equal(true);
    expect(await status(id)).to.equal(ChannelStatus.Settled);
    expect((await hre.ethers.provider.getBalance(carol.address)) - before).to.equal(parseEther("0.4"));
  });

  it("signs first from a key (the terms from the options), written to a file channel:close reads", async function () {
    const id = await open();
    const file = path.join(tmp, "close.json");
    const signed = await run<CosignResult>("channel:cosign-close", {
      channel: id,
      balance1: "0.25",
      key: carol.privateKey,
      validity: 600,
      out: file,
    });
    expect(signed.close.balance0).to.equal(parseEther("0.75"));
    const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    expect(Number(signed.close.expiry) - now).to.be.within(599, 600);
    expect(fs.readFileSync(file, "utf8").trim()).to.equal(signed.json);
    await run("channel:close", {
      channel: id,
      cooperative: true,
      balance0: "0.75",
      signatureFile: file,
    });
    expect(await status(id)).to.equal(ChannelStatus.Settled);
  });

  it("says what to fix: no key, wrong password, not a participant, bad split, forged proposal, long validity", async function () {
    const id = await open();
    expect(await failure(run("channel:cosign-close", { channel: id, balance0: "0.5" }))).to.contain(
      "give --keystore <file>",
    );
    process.env.CAROL_PASSWORD = "wrong";
    expect(
      await failure(
        run("channel:cosign-close", {
          channel: id,
          balance0: "0.5",
          keystore,
          passwordEnv: "CAROL_PASSWORD",
        }),
      ),
    ).to.contain("cannot decrypt");
    expect(
      await failure(
        run("channel:cosign-close", { channel: id, balance0: "0.5", keystore, passwordEnv: "NO_SUCH_VAR" }),
      ),
    ).to.contain("set NO_SUCH_VAR");
    const stranger = Wallet.createRandom();
    expect(
      await failure(run("channel:cosign-close", { channel: id, balance0: "0.5", key: stranger.privateKey })),
    ).to.contain(`the key is ${stranger.address}'s, not a participant's`);
    expect(
      await failure(
        run("channel:cosign-close", { channel: id, balance0: "0.5", balance1: "0.6", key: carol.privateKey }),
      ),
    ).to.contain("must sum to the deposits, 1 ETH");
    expect(
      await failure(
        run("channel:cosign-close", {
          channel: id,
          balance0: "0.5",
          key: carol.privateKey,
          validity: 90_000,
        }),
      ),
    ).to.contain("--validity must be 1 … 86400 seconds");

    // A proposal whose terms were changed after Alice signed: her signature no longer matches them.
    await failure(run("channel:close", { channel: id, cooperative: true, balance0: "0.6" }));
    const proposal = JSON.parse(
      lines.find((l) => l.includes("your signed close: "))!.split("your signed close: ")[1],
    ) as Record<string, string>;
    const forged = JSON.stringify({
      ...proposal,
      balance0: parseEther("0.1").toString(),
      balance1: parseEther("0.9").toString(),
    });
    expect(await failure(run("channel:cosign-close", { close: forged, key: carol.privateKey }))).to.contain(
      `not the other participant ${alice}'s`,
    );
    expect(
      await failure(
        run("channel:cosign-close", {
          channel: `0x${"00".repeat(32)}`,
          key: carol.privateKey,
          balance0: "1",
        }),
      ),
    ).to.contain("no channel");
  });
});
