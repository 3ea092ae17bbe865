// Evidence actions: co-signed checkpoints (newest or stale), head proofs (by the payee and by the wrong
// party, of ledger transfers and orphans) and chain pieces (honest ones from the on-chain head or earlier,
// overdrawn, stale or broken ones).
import {
  ZERO_HASH,
  bytesArg,
  chainProof,
  checkpointArgs,
  checkpointBatchArgs,
  cosignCheckpoint,
  encodeCancelConsentRecords,
  encodeLocks,
  encodeTransferBody,
  extendChainArgs,
  hashCancelConsent,
  headProof as sdkHeadProof,
  proveHeadArgs,
  proveHeadsArgs,
  signCheckpoint,
  typedDataDigest,
  RECORD_LENGTH,
} from "../../../../sdk/isomorphic";
import type {
  Checkpoint,
  Hash,
  Hex,
  PayerIndex,
  SignedCancelConsent,
  SignedCheckpoint,
  SignedTransfer,
} from "../../../../sdk/isomorphic";
import { result, send, type FuzzContext } from "../context";
import { headsOf } from "../heads";
import { NAMES, STATUS, STRANGER, type Chan, type Outcome, type Signed, type TxResult } from "../model";
import { evidenceChan, randomSender } from "./pick";

export async function checkpoint(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const ch = evidenceChan(
    ctx,
    (c) => !!c.view && (c.ledger.state(0).seq !== c.view.seq0 || c.ledger.state(1).seq !== c.view.seq1),
  );
  if (!ch) return { ok: null, note: "no channel" };
  const len0 = ch.ledger.state(0).seq;
  const len1 = ch.ledger.state(1).seq;
  const newest = rng.chance(0.6);
  const seq0 = newest ? len0 : rng.int(len0 + 1);
  const seq1 = newest ? len1 : rng.int(len1 + 1);
  const c: Checkpoint = {
    channelId: ch.id,
    seq0,
    head0: seq0 === 0 ? ZERO_HASH : ch.ledger.transfer(0, seq0).hash,
    seq1,
    head1: seq1 === 0 ? ZERO_HASH : ch.ledger.transfer(1, seq1).hash,
  };
  let signed: SignedCheckpoint;
  if (seq0 === len0 && seq1 === len1) {
    signed = await cosignCheckpoint(ch.ledger, world.signer(ch, 0), world.signer(ch, 1));
  } else {
    const sig0 = await signCheckpoint(world.signer(ch, 0), chain.domain, c);
    const sig1 = await signCheckpoint(world.signer(ch, 1), chain.domain, c);
    signed = { ...c, sig0, sig1 };
  }
  let variant = newest ? "newest" : "stale";
  if (rng.chance(0.04)) {
    signed = { ...signed, sig1: await signCheckpoint(chain.accounts[STRANGER].signer, chain.domain, c) };
    variant += ", signed by a stranger";
  } else {
    ch.checkpoints.set(`${seq0},${seq1}`, c);
  }
  const batch = rng.chance(0.25);
  const data = batch
    ? chain.iface.encodeFunctionData("checkpointBatch", [
        ...checkpointBatchArgs([{ params: ch.params, checkpoint: signed }]),
      ])
    : chain.iface.encodeFunctionData("checkpoint", [...checkpointArgs(ch.params, signed)]);
  const res = await send(ctx, randomSender(ctx, ch), data);
  if (res.ok && !res.events.includes("Checkpointed")) {
    res.ok = false;
    res.reason = "skipped in batch";
  }
  return result(res, `ch${ch.n} (${seq0}, ${seq1}) ${variant}${batch ? " batch" : ""}`);
}

export async function headProof(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const ch = evidenceChan(ctx, (c) => ([0, 1] as const).some((p) => c.top[p] > world.onchainSeq(c, p)));
  if (!ch) return { ok: null, note: "no channel" };
  const fresh = ([0, 1] as const).filter((p) => ch.top[p] > world.onchainSeq(ch, p));
  const payer = fresh.length > 0 && rng.chance(0.8) ? rng.pick(fresh) : (rng.int(2) as PayerIndex);
  const all = [...ch.bySeq[payer].values()].flat();
  if (all.length === 0) return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
  const r = rng.float();
  let target: Signed;
  const orphans = all.filter((s) => !s.accepted);
  if (r < 0.55) target = rng.pick(ch.bySeq[payer].get(ch.top[payer]) ?? all);
  else if (r < 0.7 && orphans.length > 0) target = rng.pick(orphans);
  else target = rng.pick(all);
  const s = rng.float();
  const payee = ch.parts[payer === 0 ? 1 : 0];
  const sender = s < 0.82 ? payee : s < 0.91 ? ch.parts[payer] : STRANGER;
  let record = { params: ch.params, payer, transfer: target.t as SignedTransfer };
  if (target.accepted && ch.view && ch.status !== STATUS.settled) {
    // The SDK's head proof, where it applies (a ledger transfer above the on-chain head).
    const heads = headsOf(ch, ch.view).sdk;
    const onchainSeq = heads ? (payer === 0 ? heads.seq0 : heads.seq1) : Infinity;
    if (heads && target.t.seq > onchainSeq) record = sdkHeadProof(ch.ledger, payer, heads, target.t.seq);
  }
  const batch = rng.chance(0.25);
  const data = batch
    ? chain.iface.encodeFunctionData("proveHeads", [...proveHeadsArgs([record])])
    : chain.iface.encodeFunctionData("proveHead", [...proveHeadArgs(record)]);
  const res = await send(ctx, sender, data);
  if (res.ok && !res.events.includes("HeadProved")) {
    res.ok = false;
    res.reason = "skipped in batch";
  }
  const what = target.accepted ? "" : " (orphan)";
  return result(
    res,
    `ch${ch.n} payer ${payer} seq ${target.t.seq}${what} by ${NAMES[sender]}${batch ? " batch" : ""}`,
  );
}

export async function extendChain(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const ch = evidenceChan(ctx, (c) =>
    ([0, 1] as const).some((p) => c.ledger.state(p).seq > world.onchainSeq(c, p)),
  );
  if (!ch) return { ok: null, note: "no channel" };
  const fresh = ([0, 1] as const).filter((p) => ch.ledger.state(p).seq > world.onchainSeq(ch, p));
  const payer = fresh.length > 0 && rng.chance(0.8) ? rng.pick(fresh) : (rng.int(2) as PayerIndex);
  const other: PayerIndex = payer === 0 ? 1 : 0;
  const v = ch.view;
  const heads = v && ch.status !== STATUS.settled ? headsOf(ch, v) : null;
  const onchainSeq = heads ? heads.seq[payer] : 0;
  const onLedger = heads ? !heads.body[payer] || heads.body[payer]!.accepted : true;
  const len = ch.ledger.state(payer).seq;
  const otherHead = heads ? (other === 0 ? heads.checkpoint.head0 : heads.checkpoint.head1) : ZERO_HASH;
  const sender = rng.chance(0.2) ? STRANGER : randomSender(ctx, ch);
  const r = rng.float();
  let pieces: (readonly unknown[])[] = [];
  let note: string;
  if (r < 0.62 && heads?.sdk && len > onchainSeq) {
    const toSeq = rng.chance(0.7) ? len : onchainSeq + 1 + rng.int(len - onchainSeq);
    const fromSeq = rng.chance(0.55) ? onchainSeq : rng.int(onchainSeq + 1);
    const maxTransfersPerPiece = rng.chance(0.2) ? 1 + rng.int(3) : 64;
    pieces = chainProof(ch.ledger, payer, heads.sdk, { toSeq, fromSeq, maxTransfersPerPiece });
    note = `honest ${fromSeq}..${toSeq} over on-chain ${onchainSeq} in ${pieces.length} piece(s)`;
  } else {
    const orphans = [...ch.bySeq[payer].values()].flat().filter((s) => !s.accepted);
    if (r < 0.85 && orphans.length > 0 && onLedger) {
      // an overdrawn (or premature CANCEL) transfer on top of the ledger chain, through the on-chain head
      const o = rng.pick(orphans);
      const startMax = Math.min(o.t.seq - 1, onchainSeq);
      const start = rng.int(startMax + 1);
      pieces = [piece(ch, payer, start, o.t.seq - 1, otherHead, [o.t])];
      note = `orphan seq ${o.t.seq} from ${start} over on-chain ${onchainSeq}`;
    } else if (len > 0) {
      // stale or broken: nothing beyond the on-chain head, a start above it, or a wrong other head
      const k = rng.int(3);
      if (k === 0 && onchainSeq > 0) {
        const start = rng.int(onchainSeq);
        pieces = [piece(ch, payer, start, Math.min(onchainSeq, len), otherHead)];
        note = `stale ${start}..${Math.min(onchainSeq, len)} over on-chain ${onchainSeq}`;
      } else if (k === 1 && len > onchainSeq + 1) {
        const start = onchainSeq + 1 + rng.int(len - onchainSeq - 1);
        pieces = [piece(ch, payer, start, len, otherHead)];
        note = `starting at ${start} above on-chain ${onchainSeq}`;
      } else {
        const start = onchainSeq <= len ? onchainSeq : 0;
        pieces = [piece(ch, payer, start, len, rng.bytes32())];
        note = `${start}..${len} with a wrong other head`;
      }
    } else {
      return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
    }
  }
  let res: TxResult | null = null;
  for (const args of pieces) {
    // A piece holding CANCELs the payee consented to (`cancelEarly`) carries the consents: sometimes all of
    // them, sometimes one forged by a stranger, which the contract must refuse if that CANCEL is still early.
    const consents = consentsOf(ch, payer, args);
    const forge = consents.length > 0 && rng.chance(0.1);
    if (forge) note += ", a consent forged";
    const records = forge
      ? [{ ...consents[0], signature: forgedConsent(ctx, consents[0]) }, ...consents.slice(1)]
      : consents;
    res =
      consents.length === 0
        ? await send(ctx, sender, chain.iface.encodeFunctionData("extendChain", [...args]))
        : await send(
            ctx,
            sender,
            chain.iface.encodeFunctionData("extendChainUsingConsentedCancels", [
              ...args,
              bytesArg(encodeCancelConsentRecords(records)),
            ]),
          );
    if (!res.ok) break;
  }
  if (!res) return { ok: null, note: "no piece" };
  return result(res, `ch${ch.n} payer ${payer} ${note} by ${NAMES[sender]}`);
}

/** `extendChain` args for payer's ledger transfers (from, to], then `extra`. */
function piece(
  ch: Chan,
  payer: PayerIndex,
  from: number,
  to: number,
  otherHead: Hash,
  extra: SignedTransfer[] = [],
) {
  const startBody = from === 0 ? null : ch.ledger.transfer(payer, from);
  const startLocks = ch.ledger.stateAt(payer, from).locks;
  const transfers = [...ch.ledger.transfers(payer, from, Math.max(from, to)), ...extra];
  if (transfers.length === 0) {
    // the SDK refuses to build an empty piece; the contract must refuse it too
    const body = bytesArg(startBody ? encodeTransferBody(startBody) : new Uint8Array(0));
    return [ch.params, payer, body, otherHead, bytesArg(encodeLocks(startLocks)), "0x"] as const;
  }
  return extendChainArgs({ params: ch.params, payer, startBody, startLocks, otherHead, transfers });
}

/** The ledger's consents to CANCELs of a piece's transfers (seq range from its start body and length). */
function consentsOf(ch: Chan, payer: PayerIndex, args: readonly unknown[]): SignedCancelConsent[] {
  const start = (args[2] as string).length <= 2 ? 0 : Number.parseInt((args[2] as string).slice(2, 10), 16);
  const count = ((args[5] as string).length - 2) / 2 / RECORD_LENGTH.signedTransfer;
  return ch.ledger.cancelConsents(payer, start, start + count);
}

/** The same consent signed by the stranger: never the payee's. */
function forgedConsent(ctx: FuzzContext, consent: SignedCancelConsent): Hex {
  const digest = typedDataDigest(ctx.chain.domain, hashCancelConsent(consent));
  return ctx.chain.accounts[STRANGER].signer.signDigest(digest);
}
