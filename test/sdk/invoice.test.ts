import { expect } from "chai";
import { SigningKey } from "ethers";
import {
  Currency,
  GENESIS_STATE,
  InvoiceType,
  assertBitcoinAddressOf,
  base58CheckDecode,
  base58CheckEncode,
  bech32Decode,
  createInvoice,
  decodeBitcoinAddress,
  ethereumAddressOf,
  hash160,
  invoiceIdOf,
  localSigner,
  p2pkhAddress,
  p2wpkhAddress,
  payInvoice,
  signInvoice,
  signTransferUnjournaled,
  toHex,
  verifyInvoice,
  verifyInvoicePayment,
  type Address,
  type Hex,
  type InvoicePayment,
} from "../../sdk";
import { KEY0, KEY1, expectCode, expectCodeAsync, makeChannel } from "./helpers";

// BIP-173's example key (the generator point, private key 1).
const BIP173_KEY = "0x0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798" as Hex;

describe("sdk/bitcoin: addresses of a key (public test vectors)", () => {
  it("derives the BIP-173 P2WPKH and the P2PKH address of the example key", () => {
    expect(p2wpkhAddress(BIP173_KEY)).to.equal("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    expect(p2wpkhAddress(BIP173_KEY, "testnet")).to.equal("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx");
    expect(p2pkhAddress(BIP173_KEY)).to.equal("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH");
    expect(p2pkhAddress(BIP173_KEY, "testnet")).to.equal("mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r");
    expect(toHex(hash160(Buffer.from(BIP173_KEY.slice(2), "hex")))).to.equal(
      "0x751e76e8199196d454941c45d1b3a323f1433bd6",
    );
    // The same key's Ethereum address (private key 1) is a well-known constant too.
    expect(ethereumAddressOf(BIP173_KEY)).to.equal("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    const uncompressed = SigningKey.computePublicKey(BIP173_KEY, false) as Hex;
    expect(p2wpkhAddress(uncompressed)).to.equal("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
  });

  it("decodes and checks addresses; rejects the BIP-173 invalid examples", () => {
    expect(decodeBitcoinAddress("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")).to.include({
      type: "p2wpkh",
      network: "mainnet",
    });
    expect(decodeBitcoinAddress("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH")).to.include({
      type: "p2pkh",
      network: "mainnet",
    });
    expect(assertBitcoinAddressOf("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", BIP173_KEY).network).to.equal(
      "testnet",
    );
    for (const bad of [
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // checksum
      "bc1qw508d6qejxtdg4y5r3zarvary0C5xw7kv8f3t4", // mixed case
      "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", // unknown human-readable part
      "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", // witness v2 (only v0 accepted here)
      "bc1rw5uspcuh", // too short
      "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMJ", // base58 checksum
      "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", // P2SH, not P2PKH
      "0OIl", // not base58
    ]) {
      expectCode(() => decodeBitcoinAddress(bad), "Malformed");
    }
    expectCode(() => bech32Decode("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"), "Malformed");
    expect(base58CheckDecode(base58CheckEncode(new Uint8Array([0, 0, 1, 2])))).to.deep.equal(
      new Uint8Array([0, 0, 1, 2]),
    );
    // An address of another key is an AddressMismatch.
    const other = SigningKey.computePublicKey(new SigningKey(KEY1).publicKey, true) as Hex;
    expectCode(() => assertBitcoinAddressOf(p2pkhAddress(other), BIP173_KEY), "AddressMismatch");
  });
});

describe("sdk/invoice: the paper's invoice flow", () => {
  const btcToken = "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599" as Address;
  const buyerKey = new SigningKey(KEY0);
  const buyerPublicKey = buyerKey.compressedPublicKey as Hex;

  async function paid(currency: Currency, opts: { price?: bigint; amount?: bigint } = {}) {
    const ch = makeChannel({ asset: currency === Currency.BTC ? btcToken : undefined });
    const supplier = ch.signers[1];
    const invoice = createInvoice({
      supplier: supplier.address,
      price: opts.price ?? 2500n,
      currency,
      invoiceType: InvoiceType.OneOff,
    });
    const signed = await signInvoice(supplier, ch.domain, invoice);
    const t = payInvoice(GENESIS_STATE, { channelId: ch.channelId, payer: 0 }, signed);
    const transfer = signTransferUnjournaled(
      ch.signers[0],
      ch.domain,
      opts.amount ? { ...t, amount: opts.amount, paidTotal: opts.amount } : t,
    );
    return { ch, signed, transfer };
  }

  it("the invoice id is its EIP-712 struct hash; the supplier's signature verifies", async () => {
    const { ch, signed } = await paid(Currency.ETH);
    expect(signed.invoiceId).to.equal(invoiceIdOf(signed.invoice));
    verifyInvoice(ch.domain, signed);
    expectCode(
      () => verifyInvoice(ch.domain, { ...signed, invoice: { ...signed.invoice, price: 1n } }),
      "InvoiceMismatch",
    );
    const forged = {
      ...signed,
      signature: signTransferUnjournaled(localSigner(KEY0), ch.domain, {
        ...payInvoice(GENESIS_STATE, { channelId: ch.channelId, payer: 0 }, signed),
      }).signature,
    };
    expectCode(() => verifyInvoice(ch.domain, forged), "BadSignature");
    await expectCodeAsync(() => signInvoice(ch.signers[0], ch.domain, signed.invoice), "InvoiceMismatch");
    expectCode(
      () => createInvoice({ supplier: ch.params.participant1, price: 0n, currency: 0 }),
      "Malformed",
    );
    expectCode(
      () => createInvoice({ supplier: ch.params.participant1, price: 1n, currency: 7 }),
      "Malformed",
    );
  });

  it("accepts an ETH payment whose buyer address is the key's Ethereum address", async () => {
    const { ch, signed, transfer } = await paid(Currency.ETH);
    const payment: InvoicePayment = {
      invoice: signed,
      buyerPublicKey,
      buyerAddress: ch.params.participant0,
      transfer,
    };
    verifyInvoicePayment(payment, { domain: ch.domain, params: ch.params });
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...payment, buyerAddress: ch.params.participant1 },
          { domain: ch.domain, params: ch.params },
        ),
      "AddressMismatch",
    );
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...payment, buyerAddress: p2pkhAddress(buyerPublicKey) },
          { domain: ch.domain, params: ch.params },
        ),
      "AddressMismatch",
    );
    const wrongKey = new SigningKey(KEY1).compressedPublicKey as Hex;
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...payment, buyerPublicKey: wrongKey },
          { domain: ch.domain, params: ch.params },
        ),
      "AddressMismatch",
    );
  });

  it("accepts a BTC payment in the pegged-token channel with the key's P2PKH or P2WPKH address", async () => {
    const { ch, signed, transfer } = await paid(Currency.BTC);
    const settlement = { domain: ch.domain, params: ch.params, btcToken };
    for (const buyerAddress of [p2pkhAddress(buyerPublicKey), p2wpkhAddress(buyerPublicKey)]) {
      verifyInvoicePayment({ invoice: signed, buyerPublicKey, buyerAddress, transfer }, settlement);
    }
    const otherKey = new SigningKey(KEY1).compressedPublicKey as Hex;
    expectCode(
      () =>
        verifyInvoicePayment(
          { invoice: signed, buyerPublicKey, buyerAddress: p2wpkhAddress(otherKey), transfer },
          settlement,
        ),
      "AddressMismatch",
    );
    expectCode(
      () =>
        verifyInvoicePayment(
          { invoice: signed, buyerPublicKey, buyerAddress: p2wpkhAddress(buyerPublicKey), transfer },
          { domain: ch.domain, params: ch.params },
        ),
      "InvoiceMismatch",
    );
  });

  it("rejects payments that do not match the invoice", async () => {
    const eth = await paid(Currency.ETH);
    const base = {
      invoice: eth.signed,
      buyerPublicKey,
      buyerAddress: eth.ch.params.participant0,
      transfer: eth.transfer,
    };
    const settle = { domain: eth.ch.domain, params: eth.ch.params };
    const short = await paid(Currency.ETH, { amount: 2499n });
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...base, invoice: short.signed, transfer: short.transfer },
          { domain: short.ch.domain, params: short.ch.params },
        ),
      "InvoiceMismatch",
    );
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...base, transfer: { ...eth.transfer, invoiceId: eth.transfer.prev } },
          settle,
        ),
      "InvoiceMismatch",
    );
    const other = makeChannel({ nonce: 5n });
    expectCode(
      () => verifyInvoicePayment(base, { domain: other.domain, params: other.params }),
      "WrongChannel",
    );
    // An ETH invoice paid in a token channel.
    const btc = await paid(Currency.BTC);
    expectCode(
      () =>
        verifyInvoicePayment(
          { ...base, transfer: btc.transfer },
          { domain: btc.ch.domain, params: btc.ch.params },
        ),
      "InvoiceMismatch",
    );
    // The signature must be the payer's.
    const bySupplier = signTransferUnjournaled(eth.ch.signers[1], eth.ch.domain, eth.transfer);
    expectCode(() => verifyInvoicePayment({ ...base, transfer: bySupplier }, settle), "BadSignature");
  });
});
