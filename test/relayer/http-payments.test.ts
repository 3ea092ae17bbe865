/**
 * The node's HTTP payments API (issue 12: the log of a browser wallet) on a real broker and chain: a real
 * `ParsecNode` serves `POST /transfers`, `POST /payment-messages` and reads them back per channel, with
 * long polls and `from` paging; each refusal a wallet can cause is answered 400 (413, 404) naming it, and
 * only the configured origins get CORS headers.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { parseEther, sha256 } from "ethers";
import {
  codecs,
  localSigner,
  paymentMessageToJson,
  signPaymentMessage,
  signedTransferFromJson,
  signedTransferToJson,
  toHex,
  type Hash,
  type Hex,
  type PaymentMessage,
  type PaymentMessageJson,
  type SignedTransferJson,
} from "../../sdk";
import { loadConfig } from "../../relayer/src/config";
import { ParsecNode } from "../../relayer/src/node";
import { Harness, getJson, testLogger, waitFor, type TestChannel } from "./harness";

const DAPP = "http://dapp.example:4173";
const MAX_LONG_POLLS = 2;

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

interface TransferPage {
  records: { offset: number; transfer: SignedTransferJson; appKind: string; appData: Hex }[];
  next: number;
}

interface MessagePage {
  records: { offset: number; message: PaymentMessageJson }[];
  next: number;
}

async function call<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

const postJson = <T = Record<string, unknown>>(url: string, body: unknown): Promise<Answer<T>> =>
  call<T>(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const randomHash = (): Hash => toHex(randomBytes(32)) as Hash;

describe("relayer: HTTP payments API", function () {
  this.timeout(120_000);
  let h: Harness;
  let node: ParsecNode;
  let url: string;
  let ch: TestChannel;
  const written: { offset: number; partition: number; seq: number }[] = [];

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    ch = await h.openChannel(parseEther("10"), parseEther("10"));
    node = await ParsecNode.start(h.config({ http: { corsOrigins: [DAPP], maxLongPolls: MAX_LONG_POLLS } }), {
      logger: testLogger(),
    });
    url = node.url as string;
    await waitFor("the node's chain index knows the channel", async () => {
      return (await getJson(`${url}/channels/${ch.id}`)).status === 200;
    });
  });
  after(async () => {
    await node?.stop();
    await h?.client.deleteTopics([`${h.prefix}parsec.payment-messages`]).catch(() => undefined);
    await h?.close();
  });

  describe("POST /transfers", () => {
    it("writes a signed transfer (202 with partition and offset) keyed and encoded as the Kafka adapter does; the node applies it", async () => {
      for (let i = 0; i < 3; i++) {
        const { transfer } = ch.next(0, { kind: "PAY", amount: 1000n + BigInt(i) });
        const r = await postJson<{ partition: number; offset: number }>(`${url}/transfers`, {
          transfer: signedTransferToJson(transfer),
        });
        expect(r.status, JSON.stringify(r.body)).to.equal(202);
        expect(r.body.partition).to.be.a("number");
        expect(r.body.offset).to.be.a("number");
        written.push({ ...r.body, seq: transfer.seq });
      }
      const onTopic = (await h.readAll(h.topics.transfers)).filter((r) => r.value);
      for (const w of written) {
        const rec = onTopic.find((r) => r.partition === w.partition && r.offset === w.offset);
        expect(rec, `record at ${w.partition}/${w.offset}`).to.not.equal(undefined);
        expect(rec?.key?.toString("hex")).to.equal(ch.id.slice(2));
        const m = codecs().transfer.decode(rec?.value as Buffer);
        expect(m.transfer.seq).to.equal(w.seq);
        expect(m.signer).to.equal(ch.params.participant0);
        expect(m).to.include({ appKind: "", appData: "0x" });
      }
      await waitFor(
        "the node applies the three PAYs",
        () => node.locate(ch.id)?.ch.payers[0].state.seq === 3,
      );
    });

    it("keeps appKind and appData", async () => {
      const { transfer } = ch.next(0, { kind: "PAY", amount: 7n });
      const r = await postJson(`${url}/transfers`, {
        transfer: signedTransferToJson(transfer),
        appKind: "NOTE",
        appData: "0xC0FFEE",
      });
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      const page = await call<TransferPage>(
        `${url}/channels/${ch.id}/transfers?from=${r.body.offset as number}`,
      );
      expect(page.body.records[0]).to.include({
        offset: r.body.offset,
        appKind: "NOTE",
        appData: "0xc0ffee",
      });
    });

    it("400 naming the field for a malformed transfer, a body that is not JSON, a bad appData, an appKind too long", async () => {
      const { transfer } = ch.sign(0, { kind: "PAY", amount: 5n });
      const json = signedTransferToJson(transfer);
      const cases: [unknown, string, RegExp][] = [
        [
          { transfer: { ...json, amount: 5 } },
          "Malformed",
          /transfer\.amount must be a decimal integer string/,
        ],
        [{ transfer: { ...json, signature: "0x12" } }, "Malformed", /transfer\.signature must be 65 bytes/],
        [{ transfer: { ...json, payer: 2 } }, "Malformed", /transfer\.payer must be 0 or 1/],
        [{ transfer: json, appData: "0xabc" }, "BadRequest", /appData must be 0x hex/],
        [{ transfer: json, appKind: "K".repeat(65) }, "BadRequest", /appKind/],
        [{}, "Malformed", /transfer must be an object/],
        ["{not json", "BadRequest", /the body must be JSON/],
        [[1, 2], "BadRequest", /send \{"transfer"/],
      ];
      for (const [body, error, message] of cases) {
        const r = await postJson(`${url}/transfers`, body);
        expect(r.status, JSON.stringify(body).slice(0, 80)).to.equal(400);
        expect(r.body.error).to.equal(error);
        expect(r.body.message).to.match(message);
      }
    });

    it("400 BadSignature for a transfer signed by anyone but its payer (the signature is recovered)", async () => {
      // Participant 1 signs a transfer that says payer 0: the contract and the node would never take it.
      const { transfer } = ch.sign(1, { kind: "PAY", amount: 5n });
      const forged = { ...signedTransferToJson(transfer), payer: 0 };
      const r = await postJson(`${url}/transfers`, { transfer: forged });
      expect(r.status).to.equal(400);
      expect(r.body.error).to.equal("BadSignature");
      expect(r.body.message).to.include(`not to payer 0 (${ch.params.participant0})`);
    });

    it("404 for a channel the chain index does not know; 413 for a body over 64 KiB", async () => {
      const { transfer } = ch.sign(0, { kind: "PAY", amount: 5n });
      const unknown = { ...signedTransferToJson(transfer), channelId: randomHash() };
      const r = await postJson(`${url}/transfers`, { transfer: unknown });
      expect(r.status).to.equal(404);
      expect(r.body).to.include({ error: "UnknownChannel" });
      const big = await postJson(`${url}/transfers`, {
        transfer: signedTransferToJson(transfer),
        pad: "x".repeat(70_000),
      });
      expect(big.status).to.equal(413);
      expect(big.body).to.include({ error: "TooLarge" });
    });
  });

  describe("GET /channels/:id/transfers", () => {
    it("returns the channel's records in log order from `from`, with `next` to ask from", async () => {
      const all = await call<TransferPage>(`${url}/channels/${ch.id}/transfers?from=0`);
      expect(all.status).to.equal(200);
      const seqs = all.body.records.map((r) => r.transfer.seq);
      expect(seqs).to.deep.equal([1, 2, 3, 4]);
      const offsets = all.body.records.map((r) => r.offset);
      expect(offsets).to.deep.equal([...offsets].sort((a, b) => a - b));
      expect(offsets.slice(0, 3)).to.deep.equal(written.map((w) => w.offset));
      expect(all.body.next).to.be.greaterThan(offsets[3]);
      // Decodes to the transfer the payer signed.
      const first = signedTransferFromJson(all.body.records[0].transfer);
      expect(first).to.include({ channelId: ch.id, payer: 0, seq: 1, amount: 1000n });

      const later = await call<TransferPage>(`${url}/channels/${ch.id}/transfers?from=${offsets[1] + 1}`);
      expect(later.body.records.map((r) => r.transfer.seq)).to.deep.equal([3, 4]);
      const none = await call<TransferPage>(`${url}/channels/${ch.id}/transfers?from=${all.body.next}`);
      expect(none.body).to.deep.equal({ records: [], next: all.body.next });
      // Another channel's id: its records only (none), from the same partition or another.
      const other = await call<TransferPage>(`${url}/channels/${randomHash()}/transfers?from=0`);
      expect(other.status).to.equal(200);
      expect(other.body.records).to.deep.equal([]);
    });

    it("a long poll waits for the next record and answers as soon as it is written; an empty one answers after waitMs", async () => {
      const { body: head } = await call<TransferPage>(`${url}/channels/${ch.id}/transfers?from=0`);
      const started = Date.now();
      const empty = await call<TransferPage>(
        `${url}/channels/${ch.id}/transfers?from=${head.next}&waitMs=400`,
      );
      expect(Date.now() - started).to.be.at.least(390);
      expect(empty.body).to.deep.equal({ records: [], next: head.next });

      const t0 = Date.now();
      const polling = call<TransferPage>(`${url}/channels/${ch.id}/transfers?from=${head.next}&waitMs=15000`);
      await new Promise((r) => setTimeout(r, 600));
      const { transfer } = ch.next(0, { kind: "PAY", amount: 9n });
      const posted = await postJson(`${url}/transfers`, { transfer: signedTransferToJson(transfer) });
      const got = await polling;
      const took = Date.now() - t0;
      expect(got.body.records.map((r) => r.offset)).to.deep.equal([posted.body.offset]);
      expect(got.body.records[0].transfer.seq).to.equal(transfer.seq);
      expect(took).to.be.within(600, 5000);
      console.log(`      (long poll answered ${took - 600} ms after the record's write began)`);
    });

    it("400 for a bad from or waitMs (over 25 s) or channel id; 503 beyond the concurrent long polls", async () => {
      for (const q of ["from=-1", "from=x", "waitMs=25001", "waitMs=1.5"]) {
        const r = await call(`${url}/channels/${ch.id}/transfers?${q}`);
        expect(r.status, q).to.equal(400);
        expect(r.body.error).to.equal("BadRequest");
      }
      expect((await call(`${url}/channels/0x12/transfers`)).status).to.equal(400);
      const quiet = randomHash();
      const waiting = Array.from({ length: MAX_LONG_POLLS }, () =>
        call(`${url}/channels/${quiet}/transfers?from=0&waitMs=1500`),
      );
      await new Promise((r) => setTimeout(r, 300));
      const refused = await call(`${url}/channels/${quiet}/transfers?from=0&waitMs=1500`);
      expect(refused.status).to.equal(503);
      expect(refused.body.error).to.equal("Busy");
      // A poll that does not wait is still served.
      expect((await call(`${url}/channels/${quiet}/transfers?from=0`)).status).to.equal(200);
      for (const r of await Promise.all(waiting)) expect(r.status).to.equal(200);
      expect((await call(`${url}/channels/${quiet}/transfers?from=0&waitMs=10`)).status).to.equal(200);
    });
  });

  describe("payment messages", () => {
    const preimage = randomHash();
    const hashlock = sha256(preimage) as Hash;
    const lock = () => ({ channelId: ch.id, payer: 0 as const, seq: 1n, hashlock });
    // The LOCK's payee is participant 1 (the payer is 0): only its signature counts.
    const byPayee = (m: Parameters<typeof signPaymentMessage>[2]): PaymentMessage =>
      signPaymentMessage(localSigner(ch.wallets[1].privateKey as Hex), h.domain, m, Date.now());

    it("POST writes the payee's message (202); GET reads it back, same JSON, and long-polls for the next", async () => {
      const ack = byPayee({ ...lock(), kind: "ACK" });
      const r = await postJson<{ partition: number; offset: number }>(
        `${url}/payment-messages`,
        paymentMessageToJson(ack),
      );
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      const page = await call<MessagePage>(`${url}/channels/${ch.id}/payment-messages?from=0`);
      expect(page.body.records).to.deep.equal([
        { offset: r.body.offset, message: paymentMessageToJson(ack) },
      ]);
      const onTopic = (await h.readAll(`${h.prefix}parsec.payment-messages`)).find(
        (x) => x.partition === r.body.partition && x.offset === r.body.offset,
      );
      expect(codecs().paymentMessage.decode(onTopic?.value as Buffer)).to.deep.equal(ack);

      const polling = call<MessagePage>(
        `${url}/channels/${ch.id}/payment-messages?from=${page.body.next}&waitMs=10000`,
      );
      await new Promise((res) => setTimeout(res, 300));
      const secret = byPayee({ ...lock(), kind: "SECRET", secret: preimage });
      await postJson(`${url}/payment-messages`, paymentMessageToJson(secret));
      const got = await polling;
      expect(got.body.records.map((x) => x.message)).to.deep.equal([paymentMessageToJson(secret)]);
    });

    it("400 for a message not signed by the LOCK's payee, malformed, a SECRET that does not open the hashlock, an unknown channel", async () => {
      const byPayer = signPaymentMessage(localSigner(ch.wallets[0].privateKey as Hex), h.domain, {
        ...lock(),
        kind: "ACK",
      });
      const good = paymentMessageToJson(byPayee({ ...lock(), kind: "ACK" }));
      const otherChannel = paymentMessageToJson(byPayee({ ...lock(), channelId: randomHash(), kind: "ACK" }));
      const cases: [unknown, string, RegExp][] = [
        [paymentMessageToJson(byPayer), "BadSignature", /is not the lock's payee/],
        [{ ...good, signature: paymentMessageToJson(byPayer).signature }, "BadSignature", /recovers to/],
        [{ ...good, seq: 1 }, "Malformed", /message\.seq must be a decimal integer string/],
        [{ ...good, kind: "NOPE" }, "Malformed", /message\.kind must be one of/],
        [{ ...good, kind: "SECRET", secret: randomHash() }, "Malformed", /does not open the hashlock/],
        [otherChannel, "UnknownChannel", /is not open/],
      ];
      for (const [body, error, message] of cases) {
        const r = await postJson(`${url}/payment-messages`, body);
        expect(r.status, error).to.equal(400);
        expect(r.body.error).to.equal(error);
        expect(r.body.message).to.match(message);
      }
    });
  });

  describe("CORS", () => {
    it("answers the preflight of a configured origin (204) and sends it Access-Control-Allow-Origin; others get none", async () => {
      const pre = await fetch(`${url}/transfers`, {
        method: "OPTIONS",
        headers: {
          origin: DAPP,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      expect(pre.status).to.equal(204);
      expect(pre.headers.get("access-control-allow-origin")).to.equal(DAPP);
      expect(pre.headers.get("access-control-allow-methods")).to.include("POST");
      expect(pre.headers.get("access-control-allow-headers")).to.include("content-type");
      const refused = await fetch(`${url}/transfers`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.example" },
      });
      expect(refused.status).to.equal(403);
      expect(refused.headers.get("access-control-allow-origin")).to.equal(null);

      const get = await call(`${url}/channels/${ch.id}/transfers?from=0`, { headers: { origin: DAPP } });
      expect(get.headers.get("access-control-allow-origin")).to.equal(DAPP);
      const err = await postJson(`${url}/transfers`, {});
      expect(err.headers.get("access-control-allow-origin")).to.equal(null);
      const other = await call(`${url}/health`, { headers: { origin: "http://evil.example" } });
      expect(other.headers.get("access-control-allow-origin")).to.equal(null);
    });

    it("config: none by default; a list, a comma-separated env value or * otherwise; a non-origin is refused", () => {
      const base = {
        env: { PARSEC_SUBMITTER_KEY: h.submitter.privateKey },
        overrides: h.overrides() as never,
      };
      expect(loadConfig(base).http).to.include({ paymentsApi: true, maxLongPolls: 64 });
      expect(loadConfig(base).http.corsOrigins).to.deep.equal([]);
      const env = { ...base.env, PARSEC_HTTP_CORS_ORIGINS: "http://a.example:1, https://b.example/" };
      expect(loadConfig({ ...base, env }).http.corsOrigins).to.deep.equal([
        "http://a.example:1",
        "https://b.example",
      ]);
      expect(() =>
        loadConfig({
          ...base,
          overrides: h.overrides({ http: { corsOrigins: ["a.example/path"] } }) as never,
        }),
      ).to.throw(/http\.corsOrigins/);
    });
  });
});
