import { expect } from "chai";
import { SigningKey, sha256 } from "ethers";
import { createCipheriv, createHmac, hkdfSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  ONION_FAILURE_SIZE,
  ONION_MAX_HOPS,
  ONION_PACKET_SIZE,
  OnionFailureCode,
  createFailure,
  createOnion,
  decodeFailure,
  decodeOnionPayload,
  encodeOnionPayload,
  forwardFailure,
  fromHex,
  invalidOnionData,
  onionPublicKey,
  peelOnion,
  toHex,
  type Hex,
  type OnionHop,
  type OnionPayload,
} from "../../sdk";
import { expectCode } from "./helpers";

const fill = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
const fillHex = (byte: number): Hex => toHex(fill(byte));

/** The pinned vector of protocol §11.4: session key 0x41…, node keys 0x11…, 0x12…, 0x13…, 0x14…. */
const VECTOR = {
  sessionKey: fill(0x41),
  nodeKeys: [fill(0x11), fill(0x12), fill(0x13), fill(0x14)],
  // hashlock = sha256(preimage 0x42 × 32)
  associatedData: sha256(fill(0x42)) as Hex,
  payloads: [
    { final: false, nextChannel: fillHex(0xa1), amount: 1_002_000n, expiry: 1_700_007_200n },
    { final: false, nextChannel: fillHex(0xa2), amount: 1_001_000n, expiry: 1_700_005_400n },
    { final: false, nextChannel: fillHex(0xa3), amount: 1_000_000n, expiry: 1_700_003_600n },
    {
      final: true,
      amount: 1_000_000n,
      expiry: 1_700_003_600n,
      totalAmount: 1_000_000n,
      paymentSecret: fillHex(0x5e),
    },
  ] as OnionPayload[],
};

function vectorHops(): OnionHop[] {
  return VECTOR.nodeKeys.map((k, i) => ({ nodePublicKey: onionPublicKey(k), payload: VECTOR.payloads[i] }));
}

/** A route of `n` hops with distinct node keys (0x01…, 0x02…, …) and payloads. */
function route(n: number): { keys: Uint8Array[]; hops: OnionHop[] } {
  const keys = Array.from({ length: n }, (_, i) => fill(i + 1));
  const hops = keys.map((k, i): OnionHop => ({
    nodePublicKey: onionPublicKey(k),
    payload:
      i < n - 1
        ? {
            final: false,
            nextChannel: fillHex(0x80 + i),
            amount: 5_000n - BigInt(i),
            expiry: 900n - BigInt(i),
          }
        : { final: true, amount: 4_000n, expiry: 100n, totalAmount: 8_000n, paymentSecret: fillHex(0x77) },
  }));
  return { keys, hops };
}

/** Peels a packet hop by hop; returns every hop's result. */
function peelAll(packet: Uint8Array, keys: readonly Uint8Array[], ad: Uint8Array | Hex) {
  const out = [];
  let p: Uint8Array | null = packet;
  for (const key of keys) {
    expect(p, "a packet for every hop").to.not.equal(null);
    const r = peelOnion(p as Uint8Array, key, ad);
    out.push(r);
    p = r.next;
  }
  expect(p, "no packet after the payee").to.equal(null);
  return out;
}

/**
 * An independent builder written from the text of protocol §11.4 with Node's crypto and ethers only
 * (ChaCha20, HKDF, HMAC from `node:crypto`; ECDH from ethers' `SigningKey`), to check the SDK against
 * the spec rather than against itself.
 */
function referenceOnion(
  sessionKey: Uint8Array,
  nodeKeys: readonly Hex[],
  payloads: readonly Uint8Array[],
  ad: Hex,
) {
  const N = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  const F = 136;
  const R = 20 * F;
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const key = (secret: Uint8Array, label: string) =>
    new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), `parsec-onion-v1:${label}`, 32));
  const stream = (k: Uint8Array, n: number) =>
    new Uint8Array(createCipheriv("chacha20", k, new Uint8Array(16)).update(new Uint8Array(n)));
  const hmac = (k: Uint8Array, ...parts: Uint8Array[]) => {
    const h = createHmac("sha256", k);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  };
  const compress = (uncompressed: string) => {
    const b = fromHex(uncompressed);
    return Uint8Array.from([(b[64] & 1) === 1 ? 3 : 2, ...b.subarray(1, 33)]);
  };
  let e = BigInt("0x" + hex(sessionKey));
  const secrets: Uint8Array[] = [];
  let firstEphemeral = "";
  for (const pub of nodeKeys) {
    const eHex = "0x" + e.toString(16).padStart(64, "0");
    const E = SigningKey.computePublicKey(eHex, true);
    if (!firstEphemeral) firstEphemeral = E;
    const ss = fromHex(sha256(compress(new SigningKey(eHex).computeSharedSecret(pub))));
    secrets.push(ss);
    e = (e * (BigInt(sha256(Uint8Array.from([...fromHex(E), ...ss]))) % N)) % N;
  }
  const n = nodeKeys.length;
  const filler = new Uint8Array((n - 1) * F);
  for (let i = 0; i < n - 1; i++) {
    const st = stream(key(secrets[i], "stream"), R + F);
    const len = (i + 1) * F;
    for (let j = 0; j < len; j++) filler[j] ^= st[R + F - len + j];
  }
  let beta = stream(key(sessionKey, "pad"), R);
  let h: Uint8Array = new Uint8Array(32);
  for (let i = n - 1; i >= 0; i--) {
    const next = Uint8Array.from([...payloads[i], ...h, ...beta.subarray(0, R - F)]);
    const st = stream(key(secrets[i], "stream"), R);
    for (let j = 0; j < R; j++) next[j] ^= st[j];
    if (i === n - 1) next.set(filler, R - filler.length);
    beta = next;
    h = hmac(key(secrets[i], "mac"), beta, fromHex(ad));
  }
  return Uint8Array.from([1, ...fromHex(firstEphemeral), ...beta, ...h]);
}

describe("sdk: forwarding onion (§11.4)", () => {
  const hashlock = VECTOR.associatedData;

  it("a 4-hop onion peeled hop by hop yields each payload, final only at the payee", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    const peeled = peelAll(packet, VECTOR.nodeKeys, hashlock);
    expect(peeled.map((r) => r.payload)).to.deep.equal(VECTOR.payloads);
    expect(peeled.map((r) => r.final)).to.deep.equal([false, false, false, true]);
  });

  it("every packet on the route has the same size, whatever the hop's position or the route's length", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    const peeled = peelAll(packet, VECTOR.nodeKeys, hashlock);
    const packets = [packet, ...peeled.slice(0, 3).map((r) => r.next as Uint8Array)];
    for (const p of packets) expect(p.length).to.equal(ONION_PACKET_SIZE);
    // Each hop sees a fresh ephemeral key, so two hops cannot match packets by it.
    expect(new Set(packets.map((p) => toHex(p, 1, 34))).size).to.equal(4);
    const one = route(1);
    expect(createOnion({ hops: one.hops, associatedData: hashlock }).packet.length).to.equal(
      ONION_PACKET_SIZE,
    );
  });

  it("the shared secrets the payer keeps are the ones each hop derives", () => {
    const { packet, sharedSecrets } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    const peeled = peelAll(packet, VECTOR.nodeKeys, hashlock);
    expect(peeled.map((r) => toHex(r.sharedSecret))).to.deep.equal(sharedSecrets.map((s) => toHex(s)));
  });

  it("flipping any byte of the packet is detected by the hop that receives it", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    const second = peelOnion(packet, VECTOR.nodeKeys[0], hashlock).next as Uint8Array;
    for (const [p, key] of [
      [packet, VECTOR.nodeKeys[0]],
      [second, VECTOR.nodeKeys[1]],
    ] as const) {
      // Every header and HMAC byte, and a stride through the routing info that is coprime with the
      // 136-byte frame, so every offset of every frame field is hit (all 2,786 bytes take ~40 s).
      const positions: number[] = [];
      for (let i = 0; i < p.length; i++)
        if (i < 34 || i >= p.length - 32 || (i - 34) % 5 === 0) positions.push(i);
      for (const i of positions) {
        const bad = p.slice();
        bad[i] ^= 0x01;
        let code = "";
        try {
          peelOnion(bad, key, hashlock);
        } catch (e) {
          code = (e as { code: string }).code;
        }
        if (i === 0) expect(code, `byte ${i}`).to.equal("OnionVersion");
        else if (i < 34) expect(["OnionHmacMismatch", "OnionMalformed"], `byte ${i}`).to.include(code);
        else expect(code, `byte ${i}`).to.equal("OnionHmacMismatch");
      }
    }
  });

  it("a packet is bound to its payment: another hashlock fails the HMAC", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    expectCode(() => peelOnion(packet, VECTOR.nodeKeys[0], fillHex(0x43)), "OnionHmacMismatch");
    const second = peelOnion(packet, VECTOR.nodeKeys[0], hashlock).next as Uint8Array;
    expectCode(() => peelOnion(second, VECTOR.nodeKeys[1], fillHex(0x43)), "OnionHmacMismatch");
  });

  it("a hop cannot open another hop's layer", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    const second = peelOnion(packet, VECTOR.nodeKeys[0], hashlock).next as Uint8Array;
    // The first mediator cannot peel the second's layer, nor the second the first's, nor the payee any.
    expectCode(() => peelOnion(second, VECTOR.nodeKeys[0], hashlock), "OnionHmacMismatch");
    expectCode(() => peelOnion(packet, VECTOR.nodeKeys[1], hashlock), "OnionHmacMismatch");
    expectCode(() => peelOnion(packet, VECTOR.nodeKeys[3], hashlock), "OnionHmacMismatch");
    expectCode(() => peelOnion(second, VECTOR.nodeKeys[3], hashlock), "OnionHmacMismatch");
  });

  it("rejects packets of the wrong size or version and bad routes", () => {
    const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
    expectCode(() => peelOnion(packet.subarray(1), VECTOR.nodeKeys[0], hashlock), "OnionMalformed");
    const v2 = packet.slice();
    v2[0] = 2;
    expect(expectCode(() => peelOnion(v2, VECTOR.nodeKeys[0], hashlock), "OnionVersion").message).to.match(
      /version 2 is not supported/,
    );
    const hops = vectorHops();
    expectCode(() => createOnion({ hops: [], associatedData: hashlock }), "OnionMalformed");
    expectCode(() => createOnion({ hops: hops.slice(0, 3), associatedData: hashlock }), "OnionMalformed");
    expectCode(
      () => createOnion({ hops: [hops[3], ...hops.slice(0, 3)], associatedData: hashlock }),
      "OnionMalformed",
    );
    expectCode(
      () => createOnion({ hops, associatedData: hashlock, sessionKey: new Uint8Array(32) }),
      "OnionMalformed",
    );
    expectCode(
      () =>
        createOnion({
          hops: [{ ...hops[0], nodePublicKey: `0x02${"00".repeat(32)}` }, ...hops.slice(1)],
          associatedData: hashlock,
        }),
      "OnionMalformed",
    );
  });

  it("a 20-hop onion works and a 21-hop one is refused", () => {
    const twenty = route(ONION_MAX_HOPS);
    const { packet } = createOnion({ hops: twenty.hops, associatedData: hashlock });
    const peeled = peelAll(packet, twenty.keys, hashlock);
    expect(peeled.map((r) => r.payload)).to.deep.equal(twenty.hops.map((h) => h.payload));
    for (const r of peeled.slice(0, -1)) expect(r.next?.length).to.equal(ONION_PACKET_SIZE);
    const many = route(ONION_MAX_HOPS + 1);
    expect(
      expectCode(() => createOnion({ hops: many.hops, associatedData: hashlock }), "OnionMalformed").message,
    ).to.match(/1 … 20 hops, got 21/);
  });

  it("payloads encode to 104 bytes and decode back; the rules are enforced both ways", () => {
    for (const p of VECTOR.payloads) {
      const bytes = encodeOnionPayload(p);
      expect(bytes.length).to.equal(104);
      expect(decodeOnionPayload(bytes)).to.deep.equal(p);
    }
    const forward = encodeOnionPayload(VECTOR.payloads[0]);
    forward[100] = 1; // a forward payload carrying a payment secret
    expectCode(() => decodeOnionPayload(forward), "OnionMalformed");
    expectCode(
      () => encodeOnionPayload({ final: false, nextChannel: fillHex(0), amount: 1n, expiry: 1n }),
      "OnionMalformed",
    );
    expectCode(
      () =>
        encodeOnionPayload({
          final: true,
          amount: 2n,
          expiry: 1n,
          totalAmount: 1n,
          paymentSecret: fillHex(1),
        }),
      "OnionMalformed",
    );
    expectCode(
      () => encodeOnionPayload({ final: false, nextChannel: fillHex(1), amount: 1n << 128n, expiry: 1n }),
      "Overflow",
    );
  });

  describe("failures", () => {
    function failAt(k: number, code: number, hopData?: Uint8Array) {
      const { packet, sharedSecrets } = createOnion({ hops: vectorHops(), associatedData: hashlock });
      const peeled = peelAll(packet, VECTOR.nodeKeys, hashlock);
      let failure = createFailure(peeled[k].sharedSecret, { code, hopData });
      for (let j = k - 1; j >= 0; j--) failure = forwardFailure(peeled[j].sharedSecret, failure);
      return { failure, sharedSecrets };
    }

    it("a failure created at hop k is attributed to hop k with its code and data", () => {
      const codes = [
        OnionFailureCode.InsufficientCapacity,
        OnionFailureCode.FeeInsufficient,
        OnionFailureCode.ExpiryTooSoon,
        OnionFailureCode.UnknownPayment,
      ];
      for (let k = 0; k < 4; k++) {
        const data = k === 3 ? undefined : fill(0xa1 + k);
        const { failure, sharedSecrets } = failAt(k, codes[k], data);
        expect(failure.length).to.equal(ONION_FAILURE_SIZE);
        const decoded = decodeFailure(sharedSecrets, failure);
        expect(decoded.hop).to.equal(k);
        expect(decoded.code).to.equal(codes[k]);
        expect(decoded.name).to.equal(
          ["InsufficientCapacity", "FeeInsufficient", "ExpiryTooSoon", "UnknownPayment"][k],
        );
        expect(toHex(decoded.hopData)).to.equal(toHex(data ?? new Uint8Array(0)));
      }
    });

    it("a failure altered on its way back is detected, not misattributed", () => {
      const { failure, sharedSecrets } = failAt(2, OnionFailureCode.ChannelDisabled, fill(0xa3));
      for (const i of [0, 1, 31, 32, 33, 34, 35, 40, 100, ONION_FAILURE_SIZE - 1]) {
        const bad = failure.slice();
        bad[i] ^= 0x80;
        expectCode(() => decodeFailure(sharedSecrets, bad), "OnionFailureUnreadable");
      }
      // An intermediary cannot read it: without the payer's secrets nothing authenticates.
      expectCode(() => decodeFailure([VECTOR.nodeKeys[0]], failure), "OnionFailureUnreadable");
      // A forged failure made with a made-up key is not attributed to any hop either.
      const forged = createFailure(fill(0x99), { code: OnionFailureCode.PermanentNodeFailure });
      expectCode(() => decodeFailure(sharedSecrets, forged), "OnionFailureUnreadable");
    });

    it("an unknown code still decodes; InvalidOnion carries the packet's sha256", () => {
      const { failure, sharedSecrets } = failAt(1, 0xfffe);
      expect(decodeFailure(sharedSecrets, failure)).to.include({ hop: 1, code: 0xfffe, name: null });
      const { packet } = createOnion({ hops: vectorHops(), associatedData: hashlock });
      const data = invalidOnionData(packet);
      expect(toHex(data)).to.equal(sha256(packet));
      const invalid = failAt(0, OnionFailureCode.InvalidOnion, data);
      expect(decodeFailure(invalid.sharedSecrets, invalid.failure).name).to.equal("InvalidOnion");
      expectCode(() => createFailure(fill(1), { code: 1, hopData: new Uint8Array(253) }), "OnionMalformed");
      expectCode(() => forwardFailure(fill(1), new Uint8Array(10)), "OnionMalformed");
    });
  });

  it("matches the pinned test vector of protocol §11.4", () => {
    const { packet, sharedSecrets } = createOnion({
      hops: vectorHops(),
      sessionKey: VECTOR.sessionKey,
      associatedData: hashlock,
    });
    const failure = forwardFailure(
      sharedSecrets[0],
      forwardFailure(
        sharedSecrets[1],
        createFailure(sharedSecrets[2], { code: OnionFailureCode.FeeInsufficient, hopData: fill(0xa3) }),
      ),
    );
    const got = {
      associatedData: hashlock,
      nodePublicKeys: VECTOR.nodeKeys.map((k) => toHex(onionPublicKey(k))),
      sharedSecrets: sharedSecrets.map((s) => toHex(s)),
      payload0: toHex(encodeOnionPayload(VECTOR.payloads[0])),
      packetPrefix: toHex(packet, 0, 66),
      packetHmac: toHex(packet, ONION_PACKET_SIZE - 32),
      packetSha256: sha256(packet),
      secondPacketSha256: sha256(peelOnion(packet, VECTOR.nodeKeys[0], hashlock).next as Uint8Array),
      failureSha256: sha256(failure),
    };
    expect(got).to.deep.equal(PINNED);
    // The same vector from hex inputs.
    const again = createOnion({
      hops: vectorHops().map((h) => ({ ...h, nodePublicKey: toHex(h.nodePublicKey as Uint8Array) })),
      sessionKey: toHex(VECTOR.sessionKey),
      associatedData: fromHex(hashlock),
    });
    expect(sha256(again.packet)).to.equal(PINNED.packetSha256);
  });

  it("agrees byte for byte with a builder written from the spec with node:crypto and ethers", () => {
    for (const hops of [vectorHops(), route(1).hops, route(ONION_MAX_HOPS).hops]) {
      const sessionKey = fill(0x41 + hops.length);
      const { packet } = createOnion({ hops, sessionKey, associatedData: hashlock });
      const reference = referenceOnion(
        sessionKey,
        hops.map((h) => toHex(h.nodePublicKey as Uint8Array)),
        hops.map((h) => encodeOnionPayload(h.payload)),
        hashlock,
      );
      expect(toHex(packet)).to.equal(toHex(reference));
    }
  });

  it("the onion modules are isomorphic: only @noble/* and relative imports, no Buffer", () => {
    const dir = path.join(__dirname, "..", "..", "sdk", "src", "routing");
    const files = fs.readdirSync(dir).filter((f) => /^onion.*\.ts$/.test(f));
    expect(files.length).to.be.greaterThan(2);
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      for (const m of text.matchAll(/from "([^"]+)"/g)) {
        expect(m[1], `${f} imports ${m[1]}`).to.match(/^(\.\.?\/|@noble\/(curves|hashes|ciphers)\/)/);
      }
      expect(text, f).to.not.match(/\bBuffer\.|require\(|from "node:/);
    }
  });
});

const PINNED = {
  associatedData: "0x425ed4e4a36b30ea21b90e21c712c649e8214c29b7eaf68089d1039c6e55384c",
  nodePublicKeys: [
    "0x034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa",
    "0x036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f7",
    "0x031d16453b3ab3132acb0a5bc16cc49690d819a585267a15cd5a064e2a0ad40599",
    "0x03ff8adab52623bcb2717fc71d7edc6f55e98396e6c234dff01f307a12b2af1c99",
  ],
  sharedSecrets: [
    "0xdb6f7df09179d90408351bff9f16d79abd13679e5fd212e1e990eacb3bfc5f28",
    "0x867d267c190a0663db76ab52885adcefb4b1335eb70f8e70658ac67e41bc8c3c",
    "0x4deab855e917b72b8b7106762c35f995d6da24cd0cee24767ee3177001668004",
    "0xf63e9c31f11894b06c146741f1e90b59d4bff238c2c401e70c7a0aa732c6a1e1",
  ],
  payload0:
    "0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1000000000000000000000000000f4a10" +
    "0000000065540d20" +
    "00".repeat(48),
  packetPrefix:
    "0x0102eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619665d9b8158d9a8ac7d58e79ed30a9e86" +
    "577d265a826bef9596c9b27c04ee4b4e",
  packetHmac: "0x6a8457fb032b126e3d7d9d7ae2b4feacdaf1c82a1f6a4004c8985ba4f82a3139",
  packetSha256: "0xd5cb75d9b288d5dd15377a4623b3be0b96019711c419b9ed2993fedd66ad5ef7",
  secondPacketSha256: "0xdac3b9c2bd2fa80317032aca1d4047263e8aff4a3fcab08af162bb4fbbbd5f3d",
  failureSha256: "0x4bdfcf14671d015d97e66b32b238accc7206f79811ba43fea4c4e53c82d87fa6",
};
