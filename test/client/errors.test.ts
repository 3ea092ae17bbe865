// The client package's error base: one `ClientError` with a stable `code` and the ES2022 `cause`, so an
// SDK error's `code` and a wallet's refusal survive every wrap between the SDK and what a user reads.
import { expect } from "chai";
import { inspect } from "node:util";
import { makeError } from "ethers";
import { UserRejectedRequestError } from "viem";
import {
  ClientError,
  EvidenceError,
  EvidenceMismatchError,
  NodeApiError,
  WalletRejectedError,
  causeChain,
  describeError,
  isClientError,
  isUserRejection,
  parsecErrorOf,
  planDisputeFor,
  readEvidence,
  relayerClient,
  settleArgsFor,
  toWalletError,
} from "../../client";
import {
  ChannelLedger,
  EMPTY_ONCHAIN_STATE,
  ParsecError,
  WalletError,
  exportEvidence,
  parsecDomain,
  serializeEvidence,
  toChannelParams,
  walletSigner,
  signCheckpoint,
  type Eip1193Provider,
} from "../../sdk/isomorphic";
import { TaskError, toTaskError } from "../../tasks/lib/errors";

const A = "0x00000000000000000000000000000000000000a1";
const B = "0x00000000000000000000000000000000000000b2";
const domain = parsecDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const params = toChannelParams({
  participant0: A,
  participant1: B,
  asset: A,
  challengePeriod: 3600,
  nonce: 1n,
});

/** What MetaMask throws when the user presses "Reject" (EIP-1193 `ProviderRpcError`). */
function metamaskRejection(): Error & { code: number } {
  return Object.assign(new Error("MetaMask Tx Signature: User denied transaction signature."), {
    code: 4001,
  });
}

/** Evidence of a channel with no transfers, as the relayer would serve it. */
function emptyEvidenceText(): string {
  const ledger = new ChannelLedger({ domain, params });
  return serializeEvidence(exportEvidence(ledger, { exportedBy: "test" }));
}

describe("client errors: one base, cause kept", function () {
  describe("the SDK's error base", function () {
    it("keeps the wallet's own error as `cause` when a wallet refuses to sign", async function () {
      const refusal = metamaskRejection();
      const provider: Eip1193Provider = {
        request: () => Promise.reject(refusal),
      };
      const error = await signCheckpoint(walletSigner(provider, A), domain, {
        channelId: "0x" + "11".repeat(32),
        seq0: 1,
        seq1: 0,
        head0: "0x" + "22".repeat(32),
        head1: "0x" + "00".repeat(32),
      } as Parameters<typeof signCheckpoint>[2]).then(
        () => expect.fail("signing should fail"),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(WalletError);
      expect((error as WalletError).cause).to.equal(refusal);
      expect((error as WalletError).details.walletCode).to.equal(4001);
      // Before, the refusal was a string inside WalletError's message and read as a generic failure.
      expect(isUserRejection(error)).to.equal(true);
      expect(describeError(error)).to.equal("You rejected the request in your wallet.");
    });
  });

  describe("ClientError", function () {
    it("has a stable code, its class's name and an actionable message", function () {
      const error = new NodeApiError("http://127.0.0.1:1", "unreachable (ECONNREFUSED)");
      expect(error).to.be.instanceOf(ClientError).and.instanceOf(Error);
      expect(isClientError(error)).to.equal(true);
      expect(error.code).to.equal("NodeApi");
      expect(error.name).to.equal("NodeApiError");
      expect(error.message).to.equal(
        "Relayer http://127.0.0.1:1: unreachable (ECONNREFUSED). Check that the relayer runs and its URL is right.",
      );
    });

    it("keeps the failed fetch as `cause` when the relayer cannot be reached", async function () {
      const refused = new TypeError("fetch failed");
      const client = relayerClient("http://127.0.0.1:9", () => Promise.reject(refused));
      const error = await client.channels(A).then(
        () => expect.fail("the call should fail"),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(NodeApiError);
      expect((error as NodeApiError).cause).to.equal(refused);
      expect((error as NodeApiError).status).to.equal(null);
    });

    it("wrapping an SDK error keeps the SDK's code reachable, through further wraps too", function () {
      let error: unknown;
      try {
        readEvidence('{"format": "parsec-evidence", "version": 99}');
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(EvidenceError);
      const evidenceError = error as EvidenceError;
      expect(evidenceError.code).to.equal("EvidenceUnusable");
      expect(evidenceError.cause).to.be.instanceOf(ParsecError);
      expect(parsecErrorOf(evidenceError)?.code).to.equal("Malformed");
      expect(evidenceError.message).to.match(/^Evidence is not usable: Malformed input: /);
      // A task re-wraps it: the SDK's code is still one call away, and the words are unchanged.
      const taskError = toTaskError("reading the evidence", evidenceError);
      expect(taskError).to.be.instanceOf(TaskError);
      expect(taskError.cause).to.equal(evidenceError);
      expect(taskError.parent).to.equal(evidenceError);
      expect(parsecErrorOf(taskError)?.code).to.equal("Malformed");
      expect(causeChain(taskError)).to.deep.equal([taskError, evidenceError, evidenceError.cause]);
      expect(taskError.message).to.equal(`reading the evidence failed. ${evidenceError.message}`);
    });

    it("a dispute the evidence cannot back names the SDK's StateMismatch as its cause", function () {
      const evidence = readEvidence(emptyEvidenceText());
      const onchain = { ...EMPTY_ONCHAIN_STATE, seq0: 3, commitment: 1n };
      let error: unknown;
      try {
        planDisputeFor({ evidence, onchain, sender: A });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(EvidenceMismatchError);
      expect((error as EvidenceMismatchError).code).to.equal("EvidenceMismatch");
      expect(parsecErrorOf(error)?.code).to.equal("StateMismatch");
      expect((error as Error).message).to.match(
        /^The on-chain state does not match the evidence: State mismatch: /,
      );
      // Without evidence there is no SDK error to keep: no cause, and the message says what to give.
      let missing: unknown;
      try {
        settleArgsFor(null, params, onchain);
      } catch (e) {
        missing = e;
      }
      expect(missing).to.be.instanceOf(EvidenceMismatchError);
      expect((missing as Error).cause).to.equal(undefined);
      expect(parsecErrorOf(missing)).to.equal(undefined);
    });
  });

  describe("wallet rejections", function () {
    const rejections: readonly [string, () => unknown][] = [
      ["EIP-1193 code 4001", metamaskRejection],
      [
        "ethers ACTION_REJECTED",
        () =>
          makeError("user rejected action", "ACTION_REJECTED", { action: "signMessage", reason: "rejected" }),
      ],
      ["viem UserRejectedRequestError", () => new UserRejectedRequestError(metamaskRejection())],
      [
        "a 4001 nested in a library's error",
        () => new Error("request failed", { cause: metamaskRejection() }),
      ],
    ];
    for (const [what, make] of rejections) {
      it(`${what} becomes a WalletRejectedError with the original as cause`, function () {
        const original = make();
        const error = toWalletError(original);
        expect(error).to.be.instanceOf(WalletRejectedError);
        const typed = error as WalletRejectedError;
        expect(typed.code).to.equal("WalletRejected");
        expect(typed.cause).to.equal(original);
        expect(typed.message).to.equal("You rejected the request in your wallet.");
        expect(describeError(typed)).to.equal("You rejected the request in your wallet.");
        expect(toWalletError(typed)).to.equal(typed);
      });
    }

    it("any other failure passes through unchanged", function () {
      const other = Object.assign(new Error("insufficient funds for gas"), { code: -32000 });
      expect(toWalletError(other)).to.equal(other);
      expect(isUserRejection(other)).to.equal(false);
    });

    it("a task that the wallet refused says so and keeps the typed rejection", function () {
      const error = toTaskError("signing the cooperative close", metamaskRejection());
      expect(error.message).to.equal(
        "signing the cooperative close failed. You rejected the request in your wallet.",
      );
      expect(error.cause).to.be.instanceOf(WalletRejectedError);
    });

    it("a TaskError is passed through, not wrapped again (Hardhat's constructor used to hide its class)", function () {
      const inner = new TaskError("--side must be 0 or 1, got 2");
      expect(inner).to.be.instanceOf(TaskError);
      expect(toTaskError("opening the channel", inner)).to.equal(inner);
    });

    it("a TaskError shows the CLI what to fix, and its stack only when asked (--show-stack-traces)", function () {
      const e = new TaskError("--side must be 0 or 1, got 2", new Error("inner"));
      const quiet = inspect(e);
      expect(quiet).to.not.match(/\n\s+at /);
      expect(quiet).to.include("--show-stack-traces");
      process.argv.push("--show-stack-traces");
      try {
        const loud = inspect(e);
        expect(loud).to.include("TaskError: --side must be 0 or 1, got 2");
        expect(loud).to.match(/\n\s+at /);
        expect(loud).to.include("inner");
      } finally {
        process.argv.pop();
      }
    });

    it("a cause chain with a cycle ends", function () {
      const a = new Error("a");
      const b = new Error("b", { cause: a });
      (a as { cause?: unknown }).cause = b;
      expect(causeChain(a)).to.deep.equal([a, b]);
      expect(isUserRejection(a)).to.equal(false);
    });
  });
});
