import { expect } from "chai";
import fc from "fast-check";
import { TypedDataEncoder, Wallet } from "ethers";
import vectors from "./vectors/eip712.json";
import {
  EIP712_TYPES,
  TYPE_STRINGS,
  channelIdOf,
  commitmentOf,
  createInvoice,
  domainSeparator,
  hashCheckpoint,
  hashCooperativeClose,
  hashTransfer,
  hashWithdraw,
  invoiceIdOf,
  localSigner,
  locksRootOf,
  parsecDomain,
  signCheckpoint,
  signTransferUnjournaled,
  toTransfer,
  toLock,
  toChannelParams,
  typedDataDigest,
  transferTypedData,
  type Hex,
  type Transfer,
} from "../../sdk";
import { KEY0 } from "./helpers";

const domain = parsecDomain(BigInt(vectors.domain.chainId), vectors.domain.verifyingContract as Hex);
const params = toChannelParams({ ...vectors.params, nonce: BigInt(vectors.params.nonce) });

function transferOf(v: (typeof vectors.transfers)[number]["transfer"]): Transfer {
  return toTransfer({
    ...v,
    amount: BigInt(v.amount),
    paidTotal: BigInt(v.paidTotal),
    lockedTotal: BigInt(v.lockedTotal),
    expiry: BigInt(v.expiry),
  });
}

describe("sdk/eip712: fixed vectors (test/sdk/vectors/eip712.json)", () => {
  it("type strings are the specification's", () => {
    expect(TYPE_STRINGS.Transfer).to.equal(
      "Transfer(bytes32 channelId,uint8 payer,uint32 seq,uint8 kind,uint128 amount,uint128 paidTotal,uint128 lockedTotal,bytes32 locksRoot,bytes32 hashlock,uint64 expiry,bytes32 invoiceId,bytes32 prev)",
    );
    expect(TYPE_STRINGS.Checkpoint).to.equal(
      "Checkpoint(bytes32 channelId,uint32 seq0,bytes32 head0,uint32 seq1,bytes32 head1)",
    );
    expect(TYPE_STRINGS.CooperativeClose).to.equal(
      "CooperativeClose(bytes32 channelId,uint32 seq0,uint32 seq1,uint128 balance0,uint128 balance1,uint64 expiry)",
    );
    expect(TYPE_STRINGS.Withdraw).to.equal(
      "Withdraw(bytes32 channelId,uint32 nonce,uint128 amount0,uint128 amount1,uint64 expiry)",
    );
    // The field lists given to wallets encode to the same type strings.
    for (const name of ["Transfer", "Checkpoint", "CooperativeClose", "Withdraw", "Invoice"] as const) {
      const enc = TypedDataEncoder.from({ [name]: EIP712_TYPES[name].map((f) => ({ ...f })) });
      expect(enc.encodeType(name)).to.equal(TYPE_STRINGS[name]);
    }
  });

  it("domain separator and channel id", () => {
    expect(domainSeparator(domain)).to.equal(vectors.domainSeparator);
    expect(channelIdOf(domain, params)).to.equal(vectors.channelId);
  });

  it("transfer struct hashes, digests and signatures", () => {
    const signer = localSigner(vectors.keys.participant0.privateKey as Hex);
    expect(signer.address).to.equal(vectors.keys.participant0.address);
    for (const v of vectors.transfers) {
      const t = transferOf(v.transfer);
      expect(hashTransfer(t)).to.equal(v.structHash);
      expect(typedDataDigest(domain, hashTransfer(t))).to.equal(v.digest);
      expect(signTransferUnjournaled(signer, domain, t).signature).to.equal(v.signature);
    }
    const lockVector = vectors.transfers[1];
    const locks = (lockVector.locks ?? []).map((l) =>
      toLock({ amount: BigInt(l.amount), expiry: BigInt(l.expiry), hashlock: l.hashlock }),
    );
    expect(locksRootOf(locks)).to.equal(lockVector.transfer.locksRoot);
  });

  it("checkpoint, cooperative close, withdraw, invoice, commitment", async () => {
    const cp = vectors.checkpoint.message;
    const checkpoint = {
      ...cp,
      channelId: cp.channelId as Hex,
      head0: cp.head0 as Hex,
      head1: cp.head1 as Hex,
    };
    expect(hashCheckpoint(checkpoint)).to.equal(vectors.checkpoint.structHash);
    expect(typedDataDigest(domain, hashCheckpoint(checkpoint))).to.equal(vectors.checkpoint.digest);
    expect(await signCheckpoint(localSigner(KEY0), domain, checkpoint)).to.equal(vectors.checkpoint.sig0);
    const cc = vectors.cooperativeClose.message;
    const close = {
      channelId: cc.channelId as Hex,
      seq0: cc.seq0,
      seq1: cc.seq1,
      balance0: BigInt(cc.balance0),
      balance1: BigInt(cc.balance1),
      expiry: BigInt(cc.expiry),
    };
    expect(hashCooperativeClose(close)).to.equal(vectors.cooperativeClose.structHash);
    expect(typedDataDigest(domain, hashCooperativeClose(close))).to.equal(vectors.cooperativeClose.digest);
    const wd = vectors.withdraw.message;
    const withdraw = {
      channelId: wd.channelId as Hex,
      nonce: wd.nonce,
      amount0: BigInt(wd.amount0),
      amount1: BigInt(wd.amount1),
      expiry: BigInt(wd.expiry),
    };
    expect(hashWithdraw(withdraw)).to.equal(vectors.withdraw.structHash);
    expect(typedDataDigest(domain, hashWithdraw(withdraw))).to.equal(vectors.withdraw.digest);
    const inv = vectors.invoice.message;
    const invoice = createInvoice({
      supplier: inv.supplier,
      price: BigInt(inv.price),
      currency: inv.currency,
      invoiceType: inv.invoiceType,
      nonce: inv.nonce,
    });
    expect(invoiceIdOf(invoice)).to.equal(vectors.invoice.invoiceId);
    expect(commitmentOf(vectors.commitment.head0 as Hex, vectors.commitment.head1 as Hex)).to.equal(
      BigInt(vectors.commitment.value),
    );
  });

  it("struct hashes equal ethers' TypedDataEncoder for random transfers (property)", () => {
    const hex32 = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((b) => ("0x" + Buffer.from(b).toString("hex")) as Hex);
    const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
    fc.assert(
      fc.property(
        hex32,
        fc.constantFrom(0, 1),
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        u(128),
        u(128),
        u(128),
        hex32,
        hex32,
        u(64),
        hex32,
        hex32,
        (channelId, payer, seq, amount, paid, locked, root, hashlock, expiry, invoiceId, prev) => {
          const t = toTransfer({
            channelId,
            payer,
            seq,
            kind: 1,
            amount: amount === 0n ? 1n : amount,
            paidTotal: paid,
            lockedTotal: locked,
            locksRoot: root,
            hashlock: hashlock === "0x" + "00".repeat(32) ? "0x" + "01".repeat(32) : hashlock,
            expiry: expiry === 0n ? 1n : expiry,
            invoiceId,
            prev,
          });
          const typed = transferTypedData(domain, t);
          const ref = TypedDataEncoder.hashStruct(
            "Transfer",
            { Transfer: EIP712_TYPES.Transfer.map((f) => ({ ...f })) },
            typed.message,
          );
          expect(hashTransfer(t)).to.equal(ref);
          expect(typedDataDigest(domain, hashTransfer(t))).to.equal(
            TypedDataEncoder.hash(
              {
                name: "Parsec",
                version: "1",
                chainId: domain.chainId,
                verifyingContract: domain.verifyingContract,
              },
              { Transfer: EIP712_TYPES.Transfer.map((f) => ({ ...f })) },
              typed.message,
            ),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a signature is worthless on another chain, contract or channel", () => {
    const w = new Wallet(KEY0);
    const t = transferOf(vectors.transfers[0].transfer);
    const signed = signTransferUnjournaled(localSigner(KEY0), domain, t);
    const otherChain = parsecDomain(1n, domain.verifyingContract);
    const otherContract = parsecDomain(domain.chainId, "0x000000000000000000000000000000000000dEaD");
    expect(typedDataDigest(otherChain, hashTransfer(t))).to.not.equal(
      typedDataDigest(domain, hashTransfer(t)),
    );
    expect(typedDataDigest(otherContract, hashTransfer(t))).to.not.equal(
      typedDataDigest(domain, hashTransfer(t)),
    );
    const moved = { ...t, channelId: ("0x" + "99".repeat(32)) as Hex };
    expect(hashTransfer(moved)).to.not.equal(hashTransfer(t));
    expect(signed.signature).to.have.length(132);
    expect(w.address).to.equal(vectors.keys.participant0.address);
  });
});
