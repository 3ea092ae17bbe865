import { expect } from "chai";
import { TypedDataEncoder, Wallet, sha256 } from "ethers";
import {
  InvoiceChecksumError,
  MAX_INVOICE_DESCRIPTION_BYTES,
  MAX_ROUTE_HINTS,
  MAX_ROUTED_INVOICE_BYTES,
  MAX_ROUTED_INVOICE_TEXT_LENGTH,
  ROUTED_INVOICE_TYPE_HASHES,
  ROUTED_INVOICE_TYPE_STRINGS,
  createRoutedInvoice,
  decodeRoutedInvoiceBytes,
  encodeRoutedInvoice,
  encodeRoutedInvoiceBytes,
  isParsecError,
  localSigner,
  parseRoutedInvoice,
  parsecDomain,
  toHex,
  routedInvoiceDigest,
  routedInvoiceIdOf,
  routedInvoiceTypedData,
  walletSigner,
  type CreateRoutedInvoiceParameters,
  type Eip1193Provider,
  type Hex,
  type RouteHintInput,
  type SignedRoutedInvoice,
} from "../../sdk";
import {
  BECH32_CHARSET,
  BECH32_CODE_LENGTH,
  bech32mDecode,
  bech32mEncode,
  bytesToWords,
  wordsToBytes,
} from "../../sdk/src/routing/invoice-bech32m";
import { DOMAIN, KEY0, KEY1, expectCode, expectCodeAsync } from "./helpers";

const NOW = 1_700_000_000;
const SECRET = ("0x" + "11".repeat(32)) as Hex;
const HINT: RouteHintInput = {
  channelId: "0x" + "ab".repeat(32),
  node: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
  feeBase: 1000n,
  feePpm: 100,
  expiryDelta: 600,
};
const TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";

/** The §11.1 test vector's inputs. */
function vectorParams(): CreateRoutedInvoiceParameters {
  return {
    domain: DOMAIN,
    signer: localSigner(KEY0),
    amount: 1_000_000_000_000_000n,
    description: "coffee ☕",
    now: NOW,
    validity: 3600,
    secret: SECRET,
    hints: [HINT],
  };
}

/** The §11.1 test vector (protocol.md): key = Hardhat #0, chain 31337, contract 0x5FbDB…0aa3. */
const VECTOR = {
  text:
    "parsec1qgqqqqqqqqqqq7nft77myv2k0zh7evm87qedj0my9ajpsz4r7w0adeg64ky0daxwd2ugyuneellmjgnxqqqqqqqqq" +
    "qqqqqqr34l2f35qqqpdgjdrr7ajvly0x5hfj698ncl9lj2urwl255p06ez5a0095jldcqqqqqqx25l3qqqqqqqqv4fl7yqqq" +
    "q8pqqq2vdhkven9v5sw9xy4qx46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w46k0zyehwmd2gqlg44shwjn" +
    "8sr6yh6g2fmcqsraqqqqqryqqqqykzqjvfz9ajumd2yn3tgvmqlsr7hym6r6c7mn4739kf6d5sr3w48zvuhzqme9qvr2qz7r" +
    "698cyt690fj70cch3fj9xkvk8m002wxd0txkxc3ejw5s",
  bytes:
    "0x02000000000000007a695fbdb2315678afecb367f032d93f642f64180aa3f39fd6e51aad88f6f4ce6ab8827279cfff" +
    "b92266000000000000000000038d7ea4c6800002d449a31fbb267c8f352e9968a79e3e5fc95c1bbeaa502fd6454ebde5" +
    "a4bedc000000006553f100000000006553ff1000000e10000a636f6666656520e2989501abababababababababababab" +
    "abababababababababababababababababababab3c44cdddb6a900fa2b585dd299e03d12fa4293bc0203e80000006400" +
    "00025840931222f65cdb5449c56866c1f80fd726f43d63db9d7d12d93a6d2038baa71339710379281835005e1e8a7c11" +
    "7a2bd32f3f18bc53229accb1f6f7a9c66bd66b1b",
  invoiceId: "0x766233b0def59a06b249dc7154a66a28cfd109977f9e3ea17cc6b6ef7e494ee3",
  digest: "0x5c1626f150ba4969d8ba3d0a3beb7e8cce0910982ef20393bbf5329e3e2813f0",
  signature:
    "0x40931222f65cdb5449c56866c1f80fd726f43d63db9d7d12d93a6d2038baa71339710379281835005e1e8a7c117a2bd32f3f18bc53229accb1f6f7a9c66bd66b1b",
  typeHashes: {
    RouteHint: "0x9d812bf60f8ad7d7e646b772d26fca1bc4c9ae42832fd2bcf26d330e9293c8cc",
    RoutedInvoice: "0x0d8100a65c0ebe9aa99b014a126c80fcc12d7d8c1392d280805fe305727900a3",
  },
};

async function vector(): Promise<{ text: string; invoice: SignedRoutedInvoice; secret: Hex }> {
  return createRoutedInvoice(vectorParams());
}

function reencode(signed: SignedRoutedInvoice, edit: (bytes: Uint8Array) => Uint8Array | void): string {
  const bytes = encodeRoutedInvoiceBytes(signed);
  const out = edit(bytes) ?? bytes;
  return bech32mEncode("parsec", bytesToWords(out));
}

describe("sdk/routing/invoice: routed invoices (protocol §11.1)", () => {
  it("round-trips every field, in lower and upper case", async () => {
    const { text, invoice, secret } = await createRoutedInvoice({
      ...vectorParams(),
      asset: TOKEN,
      payeeNode: localSigner(KEY1).address,
      minFinalExpiryDelta: 7200,
      hints: [HINT, { ...HINT, channelId: "0x" + "cd".repeat(32), feeBase: 0n, feePpm: 2 ** 32 - 1 }],
    });
    expect(secret).to.equal(SECRET);
    expect(text).to.match(/^parsec1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/);
    for (const t of [text, text.toUpperCase(), `  ${text}\n`]) {
      const parsed = parseRoutedInvoice(t, { domain: DOMAIN, now: NOW });
      expect(parsed).to.deep.equal(invoice);
    }
    const inv = invoice.invoice;
    expect(inv.payee).to.equal(localSigner(KEY0).address);
    expect(inv.payeeNode).to.equal(localSigner(KEY1).address);
    expect(inv.asset).to.equal(TOKEN);
    expect(inv.amount).to.equal(10n ** 15n);
    expect(inv.hashlock).to.equal(sha256(SECRET));
    expect([inv.createdAt, inv.expiry, inv.minFinalExpiryDelta]).to.deep.equal([
      BigInt(NOW),
      BigInt(NOW + 3600),
      7200,
    ]);
    expect(inv.description).to.equal("coffee ☕");
    expect(inv.hints.map((h) => h.feePpm)).to.deep.equal([100, 2 ** 32 - 1]);
    expectCode(() => parseRoutedInvoice(text.slice(0, 20) + text.slice(20).toUpperCase()), "Malformed");
  });

  it("generates a fresh 32-byte secret with the CSPRNG; the hashlock is its sha256", async () => {
    const { secret: secret0, invoice: a } = await createRoutedInvoice({
      ...vectorParams(),
      secret: undefined,
    });
    const { secret: secret1, invoice: b } = await createRoutedInvoice({
      ...vectorParams(),
      secret: undefined,
    });
    expect(secret0).to.match(/^0x[0-9a-f]{64}$/);
    expect(secret0).to.not.equal(secret1);
    expect(a.invoice.hashlock).to.equal(sha256(secret0));
    expect(b.invoice.hashlock).to.equal(sha256(secret1));
  });

  it("pins the test vector of protocol §11.1", async () => {
    const { text, invoice } = await vector();
    expect(text).to.equal(VECTOR.text);
    expect(toHex(encodeRoutedInvoiceBytes(invoice))).to.equal(VECTOR.bytes);
    expect(invoice.invoiceId).to.equal(VECTOR.invoiceId);
    expect(routedInvoiceDigest(invoice.invoice)).to.equal(VECTOR.digest);
    expect(invoice.signature).to.equal(VECTOR.signature);
    expect(ROUTED_INVOICE_TYPE_HASHES).to.deep.equal(VECTOR.typeHashes);
    expect(invoice.invoice.hashlock).to.equal(
      "0x02d449a31fbb267c8f352e9968a79e3e5fc95c1bbeaa502fd6454ebde5a4bedc",
    );
    expect(parseRoutedInvoice(VECTOR.text, { domain: DOMAIN, now: NOW })).to.deep.equal(invoice);
  });

  it("hashes and signs exactly as EIP-712 (ethers' TypedDataEncoder, a wallet's eth_signTypedData_v4)", async () => {
    const { invoice } = await vector();
    const td = routedInvoiceTypedData(invoice.invoice);
    const { EIP712Domain: _domain, ...types } = td.types;
    const mutable = JSON.parse(JSON.stringify(types));
    expect(TypedDataEncoder.from(mutable).encodeType("RoutedInvoice")).to.equal(
      ROUTED_INVOICE_TYPE_STRINGS.RoutedInvoice,
    );
    expect(TypedDataEncoder.hashStruct("RoutedInvoice", mutable, td.message)).to.equal(invoice.invoiceId);
    expect(TypedDataEncoder.hash(td.domain, mutable, td.message)).to.equal(
      routedInvoiceDigest(invoice.invoice),
    );
    // A wallet signs the JSON payload; the SDK checks that the signature recovers to the payee.
    const wallet = new Wallet(KEY0);
    const provider: Eip1193Provider = {
      async request({ method, params }) {
        expect(method).to.equal("eth_signTypedData_v4");
        const p = JSON.parse(String(params?.[1]));
        const { EIP712Domain: _d, ...t } = p.types;
        return wallet.signTypedData(p.domain, t, p.message);
      },
    };
    const viaWallet = await createRoutedInvoice({
      ...vectorParams(),
      signer: walletSigner(provider, wallet.address),
    });
    expect(viaWallet.text).to.equal(VECTOR.text);
  });

  it("rejects every single-character substitution of a valid invoice", async () => {
    const { text } = await createRoutedInvoice({ ...vectorParams(), asset: TOKEN, hints: [HINT, HINT] });
    let checked = 0;
    const alphabet = BECH32_CHARSET + "1bio";
    for (let i = 0; i < text.length; i++) {
      for (const c of alphabet) {
        if (c === text[i]) continue;
        const damaged = text.slice(0, i) + c + text.slice(i + 1);
        let error: unknown;
        try {
          parseRoutedInvoice(damaged, { domain: DOMAIN, now: NOW });
        } catch (e) {
          error = e;
        }
        expect(isParsecError(error), `position ${i} → ${c} was accepted`).to.equal(true);
        // Past the prefix, every substitution reads as damaged text, never as a different invoice.
        if (i >= "parsec1".length) expect(error).to.be.instanceOf(InvoiceChecksumError);
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(text.length * 31);
  });

  it("says the text is damaged or mistyped when the checksum fails", async () => {
    const { text } = await vector();
    const i = 40;
    const swapped = text.slice(0, i) + (text[i] === "q" ? "p" : "q") + text.slice(i + 1);
    const e = expectCode(() => parseRoutedInvoice(swapped), "InvoiceChecksum");
    expect(e.message).to.match(/damaged or mistyped/);
    expectCode(() => parseRoutedInvoice(text.slice(0, -1)), "InvoiceChecksum");
    expectCode(() => parseRoutedInvoice("lnbc1" + text.slice(7)), "Malformed");
    expectCode(() => parseRoutedInvoice(text + "q".repeat(MAX_ROUTED_INVOICE_TEXT_LENGTH)), "Malformed");
  });

  it("fails the signature check when a field is altered and the checksum recomputed", async () => {
    const { invoice } = await vector();
    const alterations: SignedRoutedInvoice[] = [
      { ...invoice, invoice: { ...invoice.invoice, amount: invoice.invoice.amount + 1n } },
      { ...invoice, invoice: { ...invoice.invoice, description: "coffee ☕☕" } },
      { ...invoice, invoice: { ...invoice.invoice, expiry: invoice.invoice.expiry + 3600n } },
      { ...invoice, invoice: { ...invoice.invoice, hints: [] } },
      { ...invoice, invoice: { ...invoice.invoice, hints: [{ ...invoice.invoice.hints[0], feePpm: 1 }] } },
      {
        ...invoice,
        invoice: { ...invoice.invoice, hints: [{ ...invoice.invoice.hints[0], feeBase: 2n ** 64n + 1000n }] },
      },
      { ...invoice, invoice: { ...invoice.invoice, payeeNode: localSigner(KEY1).address } },
      { ...invoice, invoice: { ...invoice.invoice, hashlock: sha256("0x" + "22".repeat(32)) as Hex } },
    ];
    for (const altered of alterations) {
      const text = encodeRoutedInvoice({ ...altered, invoiceId: routedInvoiceIdOf(altered.invoice) });
      expectCode(() => parseRoutedInvoice(text, { domain: DOMAIN, now: NOW }), "BadSignature");
    }
    // Changing the payee to the signer of the altered fields does not help without that key.
    const stolen = encodeRoutedInvoice({
      ...invoice,
      invoice: { ...invoice.invoice, payee: localSigner(KEY1).address },
    });
    expectCode(() => parseRoutedInvoice(stolen, { now: NOW }), "BadSignature");
    // One flipped byte inside the signature.
    const badSig = reencode(invoice, (b) => {
      b[b.length - 10] ^= 1;
    });
    expectCode(() => parseRoutedInvoice(badSig, { now: NOW }), "BadSignature");
  });

  it("rejects expired invoices and invoices of another deployment", async () => {
    const { text, invoice } = await vector();
    const expiry = invoice.invoice.expiry;
    expect(() => parseRoutedInvoice(text, { now: expiry - 1n })).to.not.throw();
    const e = expectCode(() => parseRoutedInvoice(text, { now: expiry }), "InvoiceExpired");
    expect(e.message).to.match(/Ask the payee for a new invoice/);
    expect(parseRoutedInvoice(text, { now: expiry + 10n, allowExpired: true })).to.deep.equal(invoice);
    expectCode(() => parseRoutedInvoice(text), "InvoiceExpired"); // the clock is far past 2023

    const otherChain = parsecDomain(1n, DOMAIN.verifyingContract);
    const otherContract = parsecDomain(DOMAIN.chainId, "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9");
    for (const domain of [otherChain, otherContract]) {
      expectCode(() => parseRoutedInvoice(text, { domain, now: NOW }), "WrongDomain");
      // Moving the signed invoice to the other deployment breaks the signature.
      const replayed = encodeRoutedInvoice({ ...invoice, invoice: { ...invoice.invoice, domain } });
      expectCode(() => parseRoutedInvoice(replayed, { domain, now: NOW }), "BadSignature");
    }
  });

  it("enforces the bounds when creating", async () => {
    const p = vectorParams();
    const long = "é".repeat(MAX_INVOICE_DESCRIPTION_BYTES / 2);
    await createRoutedInvoice({ ...p, description: long });
    await expectCodeAsync(() => createRoutedInvoice({ ...p, description: long + "x" }), "Malformed");
    await createRoutedInvoice({ ...p, hints: Array(MAX_ROUTE_HINTS).fill(HINT) });
    await expectCodeAsync(
      () => createRoutedInvoice({ ...p, hints: Array(MAX_ROUTE_HINTS + 1).fill(HINT) }),
      "Malformed",
    );
    await expectCodeAsync(() => createRoutedInvoice({ ...p, amount: 0n }), "Malformed");
    await createRoutedInvoice({ ...p, amount: 2n ** 128n - 1n });
    await expectCodeAsync(() => createRoutedInvoice({ ...p, amount: 2n ** 128n }), "Overflow");
    await expectCodeAsync(() => createRoutedInvoice({ ...p, amount: -1n }), "Overflow");
    await expectCodeAsync(() => createRoutedInvoice({ ...p, expiry: NOW }), "Malformed");
    await expectCodeAsync(() => createRoutedInvoice({ ...p, minFinalExpiryDelta: 0 }), "Malformed");
    await expectCodeAsync(() => createRoutedInvoice({ ...p, secret: "0x1234" }), "Malformed");
    await expectCodeAsync(
      () => createRoutedInvoice({ ...p, hints: [{ ...HINT, node: localSigner(KEY0).address }] }),
      "Malformed",
    );
    // A fee base is an amount: uint128, as in ChannelUpdate; beyond it the error names the hint's field.
    await createRoutedInvoice({ ...p, hints: [{ ...HINT, feeBase: 2n ** 64n }] });
    await createRoutedInvoice({ ...p, hints: [{ ...HINT, feeBase: 2n ** 128n - 1n }] });
    const wide = await expectCodeAsync(
      () => createRoutedInvoice({ ...p, hints: [HINT, { ...HINT, feeBase: 2n ** 128n }] }),
      "Overflow",
    );
    expect(wide.message).to.match(
      /^hints\[1\]\.feeBase = 340282366920938463463374607431768211456 does not fit uint128/,
    );
    await expectCodeAsync(
      () => createRoutedInvoice({ ...p, hints: [{ ...HINT, feeBase: -1n }] }),
      "Overflow",
    );
    await expectCodeAsync(
      () => createRoutedInvoice({ ...p, domain: parsecDomain(2n ** 64n, DOMAIN.verifyingContract) }),
      "Overflow",
    );
  });

  it("keeps every invoice within the bech32 code length, fee bases of any uint128 width included", async () => {
    const largest = (feeBase: bigint, description = "x".repeat(MAX_INVOICE_DESCRIPTION_BYTES)) =>
      createRoutedInvoice({
        ...vectorParams(),
        asset: TOKEN,
        payeeNode: localSigner(KEY1).address,
        description,
        hints: Array(MAX_ROUTE_HINTS).fill({ ...HINT, feeBase }),
      });
    // Every field at its bound with 8-byte fee bases (all of the old uint64 range): 625 bytes.
    const { invoice, text } = await largest(2n ** 64n - 1n);
    expect(encodeRoutedInvoiceBytes(invoice)).to.have.length(625);
    expect(MAX_ROUTED_INVOICE_BYTES).to.equal(627);
    expect(MAX_ROUTED_INVOICE_TEXT_LENGTH).to.equal(1017);
    expect(text.length).to.be.at.most(MAX_ROUTED_INVOICE_TEXT_LENGTH);
    // 16-byte fee bases cost description room: 24 bytes more than the cap allows with 192 bytes.
    const e = await expectCodeAsync(() => largest(2n ** 128n - 1n), "Malformed");
    expect(e.message).to.match(/takes 649 bytes, over the 627 .* shorten the description by 22 UTF-8 bytes/);
    expect((e as unknown as { details: { field: string } }).details.field).to.equal("description");
    const full = await largest(2n ** 128n - 1n, "x".repeat(MAX_INVOICE_DESCRIPTION_BYTES - 22));
    expect(encodeRoutedInvoiceBytes(full.invoice)).to.have.length(MAX_ROUTED_INVOICE_BYTES);
    expect(full.text.length).to.equal(MAX_ROUTED_INVOICE_TEXT_LENGTH);
    // hrpExpand("parsec") (13 values) || data || checksum
    expect(2 * "parsec".length + 1 + full.text.length - "parsec1".length).to.equal(BECH32_CODE_LENGTH);
    const parsed = parseRoutedInvoice(full.text.toUpperCase(), { now: NOW }).invoice;
    expect(parsed.hints.map((h) => h.feeBase)).to.deep.equal(Array(MAX_ROUTE_HINTS).fill(2n ** 128n - 1n));
  });

  it("writes a fee base in its fewest bytes: shorter hints, one binary form", async () => {
    const sizes: number[] = [];
    for (const feeBase of [0n, 1n, 255n, 256n, 2n ** 64n, 2n ** 128n - 1n]) {
      const { invoice, text } = await createRoutedInvoice({
        ...vectorParams(),
        hints: [{ ...HINT, feeBase }],
      });
      sizes.push(encodeRoutedInvoiceBytes(invoice).length);
      expect(parseRoutedInvoice(text, { now: NOW }).invoice.hints[0].feeBase).to.equal(feeBase);
    }
    const base = sizes[0];
    expect(sizes.map((s) => s - base)).to.deep.equal([0, 1, 1, 2, 9, 16]);
    // The vector's hint (fee base 1000: length 2, 0x03e8) is 63 bytes, 5 fewer than a fixed uint64.
    expect(VECTOR.bytes).to.contain("3c44cdddb6a900fa2b585dd299e03d12fa4293bc0203e800000064");
  });

  it("rejects malformed binary forms even with a valid checksum", async () => {
    const { invoice } = await vector();
    const bytes = encodeRoutedInvoiceBytes(invoice);
    expect(decodeRoutedInvoiceBytes(bytes)).to.deep.equal(invoice);
    const descLengthAt = 2 + 8 + 20 + 20 + 16 + 32 + 8 + 8 + 4;
    const feeBaseAt = descLengthAt + 2 + 10 + 1 + 32 + 20;
    expect(bytes[feeBaseAt]).to.equal(2);
    const cases: [string, (b: Uint8Array) => Uint8Array | void, RegExp][] = [
      ["version 3", (b) => void (b[0] = 3), /version 3 is not supported.*upgrade/],
      ["version 1", (b) => void (b[0] = 1), /version 1 is no longer read.*uint128.*new invoice/],
      ["unknown flag", (b) => void (b[1] = 4), /unknown invoice flags/],
      ["truncated", (b) => b.subarray(0, b.length - 1), /ends inside signature/],
      ["trailing byte", (b) => Uint8Array.from([...b, 0]), /follow the invoice's signature/],
      ["zero amount", (b) => void b.fill(0, 50, 66), /greater than zero/],
      ["description too long", (b) => void (b[descLengthAt] = 1), /at most 192/],
      ["invalid UTF-8", (b) => void (b[descLengthAt + 2] = 0xff), /not valid UTF-8/],
      ["too many hints", (b) => void (b[descLengthAt + 2 + 10] = 4), /at most 3/],
      ["fee base over 16 bytes", (b) => void (b[feeBaseAt] = 17), /hints\[0\]\.feeBase takes 17 bytes/],
      [
        "fee base with a leading zero byte",
        (b) => Uint8Array.from([...b.subarray(0, feeBaseAt), 3, 0, ...b.subarray(feeBaseAt + 1)]),
        /non-canonical invoice: hints\[0\]\.feeBase starts with a zero byte/,
      ],
    ];
    for (const [name, edit, message] of cases) {
      const e = expectCode(() => parseRoutedInvoice(reencode(invoice, edit), { now: NOW }), "Malformed");
      expect(e.message, name).to.match(message);
    }
    // A present-but-default payeeNode or asset is a second encoding of one invoice: refused.
    const withNode = Uint8Array.from([
      ...bytes.subarray(0, 50),
      ...bytes.subarray(30, 50),
      ...bytes.subarray(50),
    ]);
    withNode[1] = 1;
    expectCode(() => decodeRoutedInvoiceBytes(withNode), "Malformed");
  });

  it("implements bech32m as BIP-350 specifies", () => {
    // Valid bech32m strings from BIP-350's test vectors.
    for (const s of ["A1LQFN3A", "a1lqfn3a", "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", "?1v759aa"]) {
      const hrp = s.slice(0, s.lastIndexOf("1")).toLowerCase();
      const data = bech32mDecode(s, hrp);
      expect(bech32mEncode(hrp, data)).to.equal(s.toLowerCase());
    }
    // A valid bech32 (BIP-173) string is not valid bech32m.
    expectCode(() => bech32mDecode("a12uel5l", "a"), "InvoiceChecksum");
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(wordsToBytes(bytesToWords(bytes))).to.deep.equal(bytes);
    }
    expectCode(() => wordsToBytes([31]), "Malformed");
  });
});
