// Off-chain side of a channel for tests: both payers' signed chains in an SDK ledger and co-signed
// checkpoints, signed through an EIP-1193 provider (the node's own accounts), exported as SDK evidence.
import {
  ChannelLedger,
  buildTransfer,
  exportEvidence,
  serializeEvidence,
  signCheckpoint,
  signTransfer,
  journaledTransferSigner,
  memoryJournal,
  walletSigner,
  type ChannelParams,
  type Domain,
  type Eip1193Provider,
  type EvidenceFile,
  type Hash,
  type Lock,
  type PayerIndex,
  type SignedCheckpoint,
  type SignedTransfer,
} from "../../sdk/isomorphic";

export class OffchainChannel {
  readonly ledger: ChannelLedger;
  checkpoint: SignedCheckpoint | null = null;

  constructor(
    readonly provider: Eip1193Provider,
    readonly domain: Domain,
    readonly params: ChannelParams,
  ) {
    this.ledger = new ChannelLedger({ domain, params, verifySignature: "none" });
  }

  get channelId(): Hash {
    return this.ledger.channelId;
  }

  private readonly journal = memoryJournal();

  private signer(payer: PayerIndex) {
    const address = payer === 0 ? this.params.participant0 : this.params.participant1;
    return journaledTransferSigner(walletSigner(this.provider, address), this.journal);
  }

  private async push(payer: PayerIndex, op: Parameters<typeof buildTransfer>[2]): Promise<SignedTransfer> {
    const transfer = buildTransfer(this.ledger.state(payer), { channelId: this.channelId, payer }, op);
    const signed = await signTransfer(this.signer(payer), this.domain, transfer);
    this.ledger.apply(signed);
    return signed;
  }

  pay(payer: PayerIndex, amount: bigint): Promise<SignedTransfer> {
    return this.push(payer, { kind: "PAY", amount });
  }

  lock(payer: PayerIndex, amount: bigint, hashlock: Hash, expiry: bigint): Promise<SignedTransfer> {
    return this.push(payer, { kind: "LOCK", amount, hashlock, expiry });
  }

  unlock(payer: PayerIndex, lock: Lock): Promise<SignedTransfer> {
    return this.push(payer, { kind: "UNLOCK", lock });
  }

  /** Both participants sign the current heads. */
  async cosign(): Promise<SignedCheckpoint> {
    const c = this.ledger.checkpoint();
    const [sig0, sig1] = [
      await signCheckpoint(this.signer(0), this.domain, c),
      await signCheckpoint(this.signer(1), this.domain, c),
    ];
    this.checkpoint = { ...c, sig0, sig1 };
    return this.checkpoint;
  }

  /** What each side would receive now, pending locks back to their payers. */
  balances(deposit0: bigint, deposit1: bigint): { balance0: bigint; balance1: bigint } {
    const total = deposit0 + deposit1;
    let balance0 = deposit0 - this.ledger.state(0).paidTotal + this.ledger.state(1).paidTotal;
    if (balance0 < 0n) balance0 = 0n;
    if (balance0 > total) balance0 = total;
    return { balance0, balance1: total - balance0 };
  }

  evidence(): EvidenceFile {
    return exportEvidence(this.ledger, { exportedBy: "test", checkpoint: this.checkpoint });
  }

  evidenceJson(): string {
    return serializeEvidence(this.evidence());
  }
}
