/**
 * Persist before you sign: a journaled signer never releases two different transfers for one
 * (channel, payer, seq), also across crashes and restarts, and re-signs the same transfer identically.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import {
  GENESIS_STATE,
  JournalError,
  WouldEquivocateError,
  applyTransfer,
  buildTransfer,
  fileJournal,
  hashTransfer,
  journaledTransferSigner,
  localSigner,
  memoryJournal,
  serializeJournalEntry,
  signTransfer,
  signTransferUnjournaled,
  storageJournal,
  walletSigner,
  type Eip1193Provider,
  type Hash,
  type Hex,
  type JournalEntry,
  type JournalStorage,
  type LocalSigner,
  type SigningJournal,
  type Transfer,
} from "../../sdk";
import { KEY0, expectCodeAsync, makeChannel } from "./helpers";

const ch = makeChannel();
const origin = { channelId: ch.channelId, payer: 0 } as const;
/** Two different first transfers of payer 0: signing both would be an equivocation. */
const payA = buildTransfer(GENESIS_STATE, origin, { kind: "PAY", amount: 5n });
const payB = buildTransfer(GENESIS_STATE, origin, { kind: "PAY", amount: 3n });
const next = buildTransfer(applyTransfer(GENESIS_STATE, payA), origin, { kind: "PAY", amount: 1n });

/** KEY0's local signer, counting how often it is asked to sign. */
function countingSigner(): LocalSigner & { calls: number } {
  const inner = localSigner(KEY0);
  const s = {
    type: "local" as const,
    address: inner.address,
    calls: 0,
    signDigest(digest: Hash): Hex {
      s.calls++;
      return inner.signDigest(digest);
    },
  };
  return s;
}

/** The signature an unjournaled signer gives. */
function plainSignature(t: Transfer): Hex {
  return signTransferUnjournaled(localSigner(KEY0), ch.domain, t).signature;
}

/** Passes intents through to `inner` and "crashes" (throws) when the signature is to be recorded. */
function crashBeforeSignatureIsRecorded(inner: SigningJournal): SigningJournal {
  return {
    get: (c, p, s) => inner.get(c, p, s),
    record: async (e) => {
      if (e.signature !== undefined) throw new Error("process killed");
      await inner.record(e);
    },
  };
}

/** An EIP-1193 wallet of KEY0 that fails with `error` while it is set. */
function wallet(state: { error?: { code: number; message: string } }): Eip1193Provider {
  const w = new Wallet(KEY0);
  return {
    async request({ params }) {
      if (state.error) throw Object.assign(new Error(state.error.message), { code: state.error.code });
      const typed = JSON.parse((params as [string, string])[1]) as {
        domain: Record<string, string>;
        types: Record<string, { name: string; type: string }[]>;
        message: Record<string, unknown>;
      };
      const types = { ...typed.types };
      delete types.EIP712Domain;
      return w.signTypedData(typed.domain, types, typed.message);
    },
  };
}

function tmpFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parsec-journal-")), "journal.jsonl");
}

describe("sdk: signing journal", () => {
  describe("journaled signer (memory journal)", () => {
    it("re-signs the same transfer from the journal and refuses a different one for that seq", async () => {
      const journal = memoryJournal();
      const counting = countingSigner();
      const signer = journaledTransferSigner(counting, journal);
      const first = await signTransfer(signer, ch.domain, payA);
      expect(first.signature).to.equal(plainSignature(payA));
      const entry = await journal.get(ch.channelId, 0, 1);
      expect(entry).to.deep.include({ transferHash: hashTransfer(payA), signature: first.signature });
      expect(entry?.transfer).to.deep.equal(payA);

      const again = await signTransfer(signer, ch.domain, payA);
      expect(again.signature).to.equal(first.signature);
      expect(counting.calls).to.equal(1); // answered from the journal

      const e = await expectCodeAsync(() => signTransfer(signer, ch.domain, payB), "WouldEquivocate");
      expect(e).to.be.instanceOf(WouldEquivocateError);
      expect(e.message).to.contain(
        `seq 1 of payer 0's chain in channel ${ch.channelId} was already signed as`,
      );
      expect(e.message).to.contain(hashTransfer(payA));
      expect(e.message).to.contain("Build the next transfer on top of it");
      expect(counting.calls).to.equal(1);

      expect((await signTransfer(signer, ch.domain, next)).signature).to.equal(plainSignature(next));
      // Another payer's chain and another channel have their own seqs.
      const other = makeChannel({ nonce: 9n });
      const elsewhere = buildTransfer(
        GENESIS_STATE,
        { channelId: other.channelId, payer: 0 },
        {
          kind: "PAY",
          amount: 3n,
        },
      );
      await signTransfer(signer, other.domain, elsewhere);
      expect(journal.entries.size).to.equal(3);
    });

    it("refuses synchronous signing with a journaled signer", async () => {
      const signer = journaledTransferSigner(localSigner(KEY0), memoryJournal());
      expect(() => signTransferUnjournaled(signer, ch.domain, payA)).to.throw(JournalError);
    });

    it("lets only one of two concurrent different transfers for one seq through", async () => {
      const signer = journaledTransferSigner(localSigner(KEY0), memoryJournal());
      const results = await Promise.allSettled([
        signTransfer(signer, ch.domain, payA),
        signTransfer(signer, ch.domain, payB),
        signTransfer(signer, ch.domain, payA),
      ]);
      expect(results.map((r) => r.status)).to.deep.equal(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).to.be.instanceOf(WouldEquivocateError);
    });

    it("frees the seq when the user rejects in the wallet, but not after other wallet failures", async () => {
      const state: { error?: { code: number; message: string } } = {
        error: { code: 4001, message: "User rejected the request." },
      };
      const journal = memoryJournal();
      const signer = journaledTransferSigner(walletSigner(wallet(state), ch.params.participant0), journal);
      const rejected = await expectCodeAsync(() => signTransfer(signer, ch.domain, payA), "WalletError");
      expect((rejected as WouldEquivocateError).details.walletCode).to.equal(4001);
      expect((await journal.get(ch.channelId, 0, 1))?.abandoned).to.equal(true);
      // Nothing was signed, so the user may pay another amount with that seq.
      state.error = { code: -32603, message: "request timed out" };
      await expectCodeAsync(() => signTransfer(signer, ch.domain, payB), "WalletError");
      // The wallet may have signed payB before it timed out: payA is refused now, payB re-signs.
      await expectCodeAsync(() => signTransfer(signer, ch.domain, payA), "WouldEquivocate");
      state.error = undefined;
      expect((await signTransfer(signer, ch.domain, payB)).signature).to.equal(plainSignature(payB));
    });
  });

  describe("file journal", () => {
    it("survives a crash between signing and recording the signature", async () => {
      const file = tmpFile();
      const before = await fileJournal(file);
      const crashing = journaledTransferSigner(localSigner(KEY0), crashBeforeSignatureIsRecorded(before));
      await expectCodeAsync(() => signTransfer(crashing, ch.domain, payA), "JournalError");
      // The process dies here (no close). A new process opens the journal:
      const after = await fileJournal(file);
      const intent = await after.get(ch.channelId, 0, 1);
      expect(intent).to.deep.include({ seq: 1, transferHash: hashTransfer(payA) });
      expect(intent?.signature).to.equal(undefined);
      const counting = countingSigner();
      const signer = journaledTransferSigner(counting, after);
      const e = await expectCodeAsync(() => signTransfer(signer, ch.domain, payB), "WouldEquivocate");
      expect(e.message).to.contain(hashTransfer(payA));
      expect(counting.calls).to.equal(0);
      // The same transfer signs (identically to an unjournaled signature) and is now recorded with it.
      const signed = await signTransfer(signer, ch.domain, payA);
      expect(signed.signature).to.equal(plainSignature(payA));
      await after.close();

      const third = await fileJournal(file);
      const fresh = countingSigner();
      const again = journaledTransferSigner(fresh, third);
      expect((await signTransfer(again, ch.domain, payA)).signature).to.equal(signed.signature);
      expect(fresh.calls).to.equal(0);
      await expectCodeAsync(() => signTransfer(again, ch.domain, payB), "WouldEquivocate");
      expect(third.recoveredTornLine).to.equal(false);
      await third.close();
      // Append-only: the intent line, then the line with the signature.
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      expect(lines).to.have.length(2);
      expect(JSON.parse(lines[1]).signature).to.equal(signed.signature);
    });

    it("drops a torn last line and keeps appending after it", async () => {
      const file = tmpFile();
      const intent: JournalEntry = {
        channelId: ch.channelId,
        payer: 0,
        seq: 1,
        transferHash: hashTransfer(payA),
        transfer: payA,
      };
      const line = serializeJournalEntry(intent) + "\n";
      const torn = serializeJournalEntry({ ...intent, signature: plainSignature(payA) });
      fs.writeFileSync(file, line + torn.slice(0, 77));
      const j = await fileJournal(file);
      expect(j.recoveredTornLine).to.equal(true);
      expect(j.size).to.equal(1);
      expect(fs.readFileSync(file, "utf8")).to.equal(line); // truncated back to the last whole line
      const signer = journaledTransferSigner(localSigner(KEY0), j);
      await expectCodeAsync(() => signTransfer(signer, ch.domain, payB), "WouldEquivocate");
      await signTransfer(signer, ch.domain, payA);
      await j.close();
      const reopened = await fileJournal(file);
      expect(reopened.recoveredTornLine).to.equal(false);
      expect((await reopened.get(ch.channelId, 0, 1))?.signature).to.equal(plainSignature(payA));
      await reopened.close();

      // A last line that ends in a newline but is garbage (blocks written out of order) is torn too.
      fs.appendFileSync(file, "\u0000\u0000{\n");
      const garbage = await fileJournal(file);
      expect(garbage.recoveredTornLine).to.equal(true);
      expect(garbage.size).to.equal(1);
      await garbage.close();
    });

    it("refuses to open a file damaged before its last line", async () => {
      const file = tmpFile();
      const entry: JournalEntry = {
        channelId: ch.channelId,
        payer: 0,
        seq: 1,
        transferHash: hashTransfer(payA),
        transfer: payA,
      };
      const tampered = serializeJournalEntry(entry).replace('"amount":"5"', '"amount":"6"');
      fs.writeFileSync(file, tampered + "\n" + serializeJournalEntry(entry) + "\n");
      await expectCodeAsync(() => fileJournal(file), "JournalError");
    });
  });

  describe("storage journal (localStorage)", () => {
    function fakeStorage(): JournalStorage & { map: Map<string, string>; full: boolean } {
      const map = new Map<string, string>();
      const s = {
        map,
        full: false,
        getItem: (k: string) => map.get(k) ?? null,
        setItem: (k: string, v: string) => {
          if (s.full) throw new Error("QuotaExceededError");
          map.set(k, v);
        },
      };
      return s;
    }

    it("keeps entries across page loads and refuses equivocation", async () => {
      const storage = fakeStorage();
      const counting = countingSigner();
      const signed = await signTransfer(
        journaledTransferSigner(counting, storageJournal(storage, "wallet:")),
        ch.domain,
        payA,
      );
      expect([...storage.map.keys()]).to.deep.equal([`wallet:${ch.channelId}:0:1`]);
      // A reload: a new journal over the same storage.
      const reloaded = journaledTransferSigner(counting, storageJournal(storage, "wallet:"));
      expect((await signTransfer(reloaded, ch.domain, payA)).signature).to.equal(signed.signature);
      expect(counting.calls).to.equal(1);
      await expectCodeAsync(() => signTransfer(reloaded, ch.domain, payB), "WouldEquivocate");
      // Another prefix is another journal.
      await signTransfer(
        journaledTransferSigner(counting, storageJournal(storage, "other:")),
        ch.domain,
        payB,
      );
    });

    it("signs nothing when the storage cannot be written", async () => {
      const storage = fakeStorage();
      storage.full = true;
      const counting = countingSigner();
      const e = await expectCodeAsync(
        () => signTransfer(journaledTransferSigner(counting, storageJournal(storage)), ch.domain, payA),
        "JournalError",
      );
      expect(e.message).to.contain("QuotaExceededError");
      expect(counting.calls).to.equal(0);
      storage.map.set(`parsec:journal:${ch.channelId}:0:1`, "{not json");
      storage.full = false;
      await expectCodeAsync(
        () => signTransfer(journaledTransferSigner(counting, storageJournal(storage)), ch.domain, payA),
        "JournalError",
      );
      expect(counting.calls).to.equal(0);
    });
  });
});
