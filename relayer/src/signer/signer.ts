/**
 * The signer component: reads checkpoint proposals, signs those for channels where it holds a
 * participant's key, and publishes the signatures. A participant can run it alone (with its own keys
 * and its own `validate`), or a node runs it for keys it holds on a participant's behalf.
 *
 * It signs only proposals it can vouch for: the domain must be this deployment's, the channel must be
 * on-chain, the proposer must be trusted, and `validate` (the node checks the heads against its own
 * state when it holds the channel) must accept it.
 */
import { createHash } from "node:crypto";
import {
  type Address,
  type CheckpointProposal,
  codecs,
  type Domain,
  type LocalSigner,
  signCheckpoint,
} from "../../../sdk";
import type { ChainRegistry } from "../chain/registry";
import type { TopicNames } from "../config";
import { messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import type { GroupConsumer, LogClient, LogProducer, OutRecord } from "../kafka/client";
import { channelKey } from "../kafka/topics";
import type { Logger } from "../log";

/** Proposals older than this are not signed (the node proposes again when signatures do not come). */
const MAX_PROPOSAL_AGE_MS = 10 * 60_000;

/** The signer's verdict on a proposal: null to sign, else why not. */
export type ProposalCheck = (p: CheckpointProposal) => string | null;

export interface SignerOptions {
  readonly client: LogClient;
  readonly producer: LogProducer;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly domain: Domain;
  readonly registry: ChainRegistry;
  readonly signers: ReadonlyMap<string, LocalSigner>;
  readonly trustedProposers: readonly Address[] | "any";
  readonly validate: ProposalCheck;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The signer's consumer group: one per set of keys, so restarts resume and replicas share the work. */
export function signerGroupId(base: string, signers: ReadonlyMap<string, LocalSigner>): string {
  const keys = [...signers.keys()].sort().join(",");
  return `${base}.signer.${createHash("sha256").update(keys).digest("hex").slice(0, 16)}`;
}

export class CheckpointSigner {
  private consumer: GroupConsumer | null = null;
  private readonly signed = new Set<string>();
  private readonly trusted: Set<string> | null;

  constructor(private readonly opts: SignerOptions) {
    this.trusted =
      opts.trustedProposers === "any" ? null : new Set(opts.trustedProposers.map((a) => a.toLowerCase()));
  }

  private verdict(p: CheckpointProposal): string | null {
    const { domain, registry } = this.opts;
    if (p.domain.chainId !== domain.chainId || p.domain.verifyingContract !== domain.verifyingContract)
      return "another deployment";
    if (this.trusted && !this.trusted.has(p.proposer.toLowerCase()))
      return `proposer ${p.proposer} is not trusted`;
    const onchain = registry.get(p.checkpoint.channelId);
    if (!onchain) return "unknown channel";
    if (onchain.status === "SETTLED") return "settled channel";
    if (p.checkpoint.seq0 < onchain.seq0 || p.checkpoint.seq1 < onchain.seq1) return "older than the chain";
    return this.opts.validate(p);
  }

  /** Signs what it can of a batch of proposals; returns the signature messages. */
  async sign(proposals: readonly CheckpointProposal[]): Promise<OutRecord[]> {
    const out: OutRecord[] = [];
    const oldest = Date.now() - MAX_PROPOSAL_AGE_MS;
    for (const p of proposals) {
      if (this.signed.has(p.proposalId) || p.proposedAtMs < oldest) continue;
      const onchain = this.opts.registry.get(p.checkpoint.channelId);
      const mine = onchain
        ? ([0, 1] as const).filter((i) => this.opts.signers.has(onchain.participantsLower[i]))
        : [];
      if (!onchain || mine.length === 0) continue;
      const why = this.verdict(p);
      if (why) {
        this.opts.metrics.inc(M.signatures, "Checkpoint signatures received, by outcome", {
          outcome: "refused",
        });
        this.opts.logger.info("checkpoint proposal not signed", { proposalId: p.proposalId, reason: why });
        continue;
      }
      for (const i of mine) {
        const signer = this.opts.signers.get(onchain.participantsLower[i]) as LocalSigner;
        const signature = await signCheckpoint(signer, this.opts.domain, p.checkpoint);
        out.push({
          key: channelKey(p.checkpoint.channelId),
          value: codecs().checkpointSignature.encode({
            schemaVersion: 1,
            proposalId: p.proposalId,
            checkpoint: p.checkpoint,
            signerIndex: i,
            signer: signer.address,
            signature,
            signedAtMs: Date.now(),
          }),
        });
      }
      this.signed.add(p.proposalId);
      if (this.signed.size > 100_000) this.signed.clear();
    }
    return out;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const consumer = await o.client.groupConsumer({
      groupId: o.groupId,
      topics: [o.topics.checkpointProposals],
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      coPartitioned: false,
      // A new group reads from the start so no proposal made before it joined is missed; stale ones
      // are skipped by age below, and the group's committed offsets make restarts resume.
      fromBeginning: true,
    });
    this.consumer = consumer;
    void consumer.run(async (batch) => {
      const proposals: CheckpointProposal[] = [];
      for (const r of batch.records) {
        try {
          proposals.push(codecs().checkpointProposal.decode(r.value ?? new Uint8Array(0)));
        } catch (e) {
          o.logger.warn("unreadable checkpoint proposal skipped", { offset: r.offset, error: messageOf(e) });
        }
      }
      const out = await this.sign(proposals);
      if (out.length > 0) await o.producer.send(o.topics.checkpointSignatures, out);
      const last = batch.records[batch.records.length - 1];
      if (last)
        await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }
}
