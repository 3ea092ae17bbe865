import { expect } from "chai";
import fc from "fast-check";
import { Signature, Wallet } from "ethers";
import {
  SECP256K1_N,
  fromHex,
  hashTransfer,
  isCanonicalSignature,
  localSigner,
  nativeSigner,
  normalizeSignature,
  recoverSigner,
  signTransfer,
  signTransferUnjournaled,
  transferSigner,
  transferTypedData,
  typedDataDigest,
  journaledTransferSigner,
  memoryJournal,
  walletSigner,
  type ParsecSigner,
  type Eip1193Provider,
  type Hash,
  type Hex,
} from "../../sdk";
import { KEY0, KEY1, expectCode, expectCodeAsync, makeChannel, pays, signChain } from "./helpers";

/** The signer with an in-memory signing journal: these keys never outlive the test process. */
const journaled = <S extends ParsecSigner>(signer: S) => journaledTransferSigner(signer, memoryJournal());

const ch = makeChannel();
const transfer = signChain(ch, 0, pays(1)).transfers[0];
const digest = typedDataDigest(ch.domain, hashTransfer(transfer));

/** The same signature with s' = n − s and the other v: valid for ecrecover, refused by the contract. */
function highS(sig: Hex): Hex {
  const b = fromHex(sig);
  const s = BigInt("0x" + Buffer.from(b.subarray(32, 64)).toString("hex"));
  const flipped = SECP256K1_N - s;
  const out = b.slice();
  for (let i = 0; i < 32; i++) out[63 - i] = Number((flipped >> BigInt(8 * i)) & 0xffn);
  out[64] = b[64] === 27 ? 28 : 27;
  return ("0x" + Buffer.from(out).toString("hex")) as Hex;
}

describe("sdk/sign: signatures", () => {
  it("local signing is deterministic, low-s, v ∈ {27, 28}, and recovers to the payer", () => {
    const s = signTransferUnjournaled(localSigner(KEY0), ch.domain, transfer);
    expect(s.signature).to.equal(transfer.signature);
    expect(isCanonicalSignature(s.signature)).to.equal(true);
    expect([27, 28]).to.include(fromHex(s.signature)[64]);
    expect(transferSigner(ch.domain, s)).to.equal(ch.params.participant0);
    const fromWallet = localSigner(new Wallet(KEY0));
    expect(fromWallet.address).to.equal(ch.params.participant0);
    expect(fromWallet.signDigest(digest)).to.equal(s.signature);
  });

  it("the native signer (libsecp256k1) signs exactly as the local signer, for any digest", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const d = ("0x" + Buffer.from(bytes).toString("hex")) as Hash;
        expect(nativeSigner(KEY1).signDigest(d)).to.equal(localSigner(KEY1).signDigest(d));
      }),
      { numRuns: 50 },
    );
    expect(nativeSigner(KEY0).address).to.equal(ch.params.participant0);
  });

  it("normalizes high-s, v ∈ {0, 1} and EIP-2098 compact signatures to the canonical form", () => {
    const canonical = transfer.signature;
    const high = highS(canonical);
    expect(isCanonicalSignature(high)).to.equal(false);
    expect(normalizeSignature(high)).to.equal(canonical);
    const v01 = fromHex(canonical).slice();
    v01[64] -= 27;
    expect(normalizeSignature(v01)).to.equal(canonical);
    const compact = Signature.from(canonical).compactSerialized as Hex;
    expect(fromHex(compact).length).to.equal(64);
    expect(normalizeSignature(compact)).to.equal(canonical);
    expect(recoverSigner(digest, normalizeSignature(high))).to.equal(ch.params.participant0);
  });

  it("rejects malformed and high-s signatures with BadSignature", () => {
    expectCode(() => recoverSigner(digest, highS(transfer.signature)), "BadSignature");
    expectCode(() => normalizeSignature("0x1234"), "BadSignature");
    expectCode(() => normalizeSignature("0xzz" as Hex), "BadSignature");
    const v29 = fromHex(transfer.signature).slice();
    v29[64] = 29;
    expectCode(() => normalizeSignature(v29), "BadSignature");
    const r0 = fromHex(transfer.signature).slice();
    r0.fill(0, 0, 32);
    expectCode(() => normalizeSignature(r0), "BadSignature");
    const sN = fromHex(transfer.signature).slice();
    sN.fill(0xff, 32, 64);
    expectCode(() => normalizeSignature(sN), "BadSignature");
    expectCode(() => localSigner("0x00" as Hex), "BadSignature");
  });

  describe("EIP-1193 wallets (eth_signTypedData_v4)", () => {
    /** A wallet that signs with ethers but returns high-s signatures with v ∈ {0, 1}, as some do. */
    function quirkyWallet(key: Hex, calls: unknown[][]): Eip1193Provider {
      const w = new Wallet(key);
      return {
        async request({ method, params }) {
          calls.push([method, ...(params ?? [])]);
          if (method !== "eth_signTypedData_v4") throw new Error(`unsupported ${method}`);
          const [address, json] = params as [string, string];
          if (address !== w.address) throw new Error("unknown account");
          const typed = JSON.parse(json) as {
            domain: Record<string, string>;
            types: Record<string, { name: string; type: string }[]>;
            message: Record<string, unknown>;
          };
          const types = { ...typed.types };
          delete types.EIP712Domain;
          const sig = await w.signTypedData(typed.domain, types, typed.message);
          const b = fromHex(highS(sig as Hex)).slice();
          b[64] -= 27;
          return "0x" + Buffer.from(b).toString("hex");
        },
      };
    }

    it("sends the v4 JSON payload and normalizes what the wallet returns", async () => {
      const calls: unknown[][] = [];
      const signer = journaled(walletSigner(quirkyWallet(KEY0, calls), ch.params.participant0.toLowerCase()));
      const signed = await signTransfer(signer, ch.domain, transfer);
      expect(signed.signature).to.equal(transfer.signature);
      expect(calls[0][0]).to.equal("eth_signTypedData_v4");
      const payload = JSON.parse(calls[0][2] as string);
      expect(payload).to.deep.equal(JSON.parse(JSON.stringify(transferTypedData(ch.domain, transfer))));
      expect(payload.primaryType).to.equal("Transfer");
      expect(payload.message.amount).to.equal("1");
    });

    it("turns wallet failures into WalletError and wrong signers into BadSignature", async () => {
      const refusing: Eip1193Provider = {
        request: async () => Promise.reject(new Error("User rejected the request.")),
      };
      const e = await expectCodeAsync(
        () => signTransfer(journaled(walletSigner(refusing, ch.params.participant0)), ch.domain, transfer),
        "WalletError",
      );
      expect(e.message).to.contain("User rejected");
      const silent: Eip1193Provider = { request: async () => null };
      await expectCodeAsync(
        () => signTransfer(journaled(walletSigner(silent, ch.params.participant0)), ch.domain, transfer),
        "WalletError",
      );
      // A wallet whose account signs with another key (participant1's) is caught before the contract.
      const impostor: Eip1193Provider = {
        request: (args) =>
          quirkyWallet(KEY1, []).request({
            ...args,
            params: [new Wallet(KEY1).address, (args.params ?? [])[1]],
          }),
      };
      await expectCodeAsync(
        () => signTransfer(journaled(walletSigner(impostor, ch.params.participant0)), ch.domain, transfer),
        "BadSignature",
      );
      expectCode(() => walletSigner(silent, "0x1234"), "Malformed");
    });

    it("refuses to sign a transfer with a signer that has no signing journal", async () => {
      const calls: unknown[][] = [];
      const bare = walletSigner(quirkyWallet(KEY0, calls), ch.params.participant0);
      const e = await expectCodeAsync(() => signTransfer(bare, ch.domain, transfer), "JournalRequired");
      expect(e.message).to.contain("journaledTransferSigner");
      expect(calls).to.have.length(0); // the wallet was never asked
      const local = await expectCodeAsync(
        () => signTransfer(localSigner(KEY0), ch.domain, transfer),
        "JournalRequired",
      );
      expect((local as Error & { details: unknown }).details).to.deep.equal({
        signer: ch.params.participant0,
      });
    });
  });
});
