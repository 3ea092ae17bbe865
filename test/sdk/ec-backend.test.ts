import { expect } from "chai";
import fc from "fast-check";
import { sha256 } from "ethers";
import {
  createOnion,
  ecBackend,
  localSigner,
  nativeEcBackend,
  nobleEcBackend,
  onionPublicKey,
  peelOnion,
  recoverSigner,
  toHex,
  useEcBackend,
  type EcBackend,
  type Hash,
  type Hex,
} from "../../sdk";

const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => {
  const n = BigInt(toHex(k));
  return n > 0n && n < 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
});
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Runs `f` with `backend` installed, then restores the one before. */
function withBackend<T>(backend: EcBackend, f: () => T): T {
  const before = ecBackend();
  useEcBackend(backend);
  try {
    return f();
  } finally {
    useEcBackend(before);
  }
}

describe("sdk: secp256k1 backends (crypto/ec.ts)", () => {
  const native = nativeEcBackend();

  it("the Node entry uses libsecp256k1", () => {
    expect(ecBackend().name).to.equal("libsecp256k1");
  });

  it("libsecp256k1 and @noble/curves sign, recover and multiply identically", () => {
    fc.assert(
      fc.property(key, key, digest, (a, b, d) => {
        const s1 = native.sign(d, a);
        const s2 = nobleEcBackend.sign(d, a);
        expect(toHex(s1.signature)).to.equal(toHex(s2.signature));
        expect(s1.recid).to.equal(s2.recid);
        const pub = toHex(native.recover(d, s1.signature, s1.recid));
        expect(toHex(nobleEcBackend.recover(d, s1.signature, s1.recid))).to.equal(pub);
        expect(toHex(native.publicKey(a))).to.equal(toHex(nobleEcBackend.publicKey(a)));
        const point = native.publicKey(b);
        expect(toHex(native.multiply(point, a))).to.equal(toHex(nobleEcBackend.multiply(point, a)));
      }),
      { numRuns: 60 },
    );
  });

  it("signers, recovery and onions agree across backends", () => {
    const k = `0x${"37".repeat(32)}` as Hex;
    const d = sha256("0x01") as Hash;
    const nodeKey = new Uint8Array(32).fill(0x11);
    const params = {
      hops: [
        {
          nodePublicKey: onionPublicKey(nodeKey),
          payload: { final: false as const, nextChannel: d, amount: 5n, expiry: 100n },
        },
        {
          nodePublicKey: onionPublicKey(new Uint8Array(32).fill(0x12)),
          payload: {
            final: true as const,
            amount: 5n,
            expiry: 100n,
            totalAmount: 5n,
            paymentSecret: `0x${"5e".repeat(32)}` as Hex,
          },
        },
      ],
      sessionKey: new Uint8Array(32).fill(0x41),
      associatedData: d,
    };
    const run = (): string[] => {
      const sig = localSigner(k).signDigest(d);
      const { packet } = createOnion(params);
      const peeled = peelOnion(packet, nodeKey, d);
      return [sig, recoverSigner(d, sig), toHex(packet), toHex(peeled.sharedSecret), toHex(peeled.next!)];
    };
    expect(withBackend(nobleEcBackend, run)).to.deep.equal(withBackend(native, run));
  });

  it("both refuse a point that is not on the curve", () => {
    const bad = new Uint8Array(33).fill(0xff);
    bad[0] = 0x02;
    const one = new Uint8Array(32);
    one[31] = 1;
    expect(() => native.multiply(bad, one)).to.throw();
    expect(() => nobleEcBackend.multiply(bad, one)).to.throw();
  });
});
