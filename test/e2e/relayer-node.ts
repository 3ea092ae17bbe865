// The real Parsec node for the dapp test: Kafka (the local broker or KAFKA_BROKERS), an in-process
// ParsecNode holding the counterparty's key, and a producer that streams a test channel's signed
// transfers to it. Only its HTTP API is used by the page; commits and the watchtower are off so the
// test decides what reaches the chain.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet, type JsonRpcProvider } from "ethers";
import { codecs, DEFAULT_TOPICS, transferMessage, type PayerIndex } from "../../sdk";
import { ParsecNode, channelKey, createLogClient, loadConfig, silentLogger } from "../../relayer";
import type { LogClient, OutRecord } from "../../relayer";
import { ensureKafka } from "../../scripts/kafka/launcher";
import type { OffchainChannel } from "../tasks/offchain";

const NEVER_MS = 3_600_000;
const WAIT_MS = 60_000;

export interface RelayerNode {
  readonly url: string;
  /** Streams the channel's transfers the node has not seen yet, and waits until it has applied them. */
  feed(channel: OffchainChannel): Promise<void>;
  stop(): Promise<void>;
}

export async function startRelayerNode(options: {
  provider: JsonRpcProvider;
  channels: string;
  startBlock: number;
  /** The private key of the participant the node serves (signs cooperative closes for). */
  servesKey: string;
  /** Mediates routed payments with this fee policy (the payments test); off by default. */
  mediation?: { feeBase: bigint; feePpm: number; expiryDelta: number; minConfirmationMarginSeconds: number };
}): Promise<RelayerNode> {
  const brokers = await ensureKafka();
  const prefix = `e2e${Date.now().toString(36)}.`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-e2e-node-"));
  const submitter = Wallet.createRandom();
  await options.provider.send("hardhat_setBalance", [submitter.address, "0x56bc75e2d63100000"]);
  const config = loadConfig({
    env: { PARSEC_SUBMITTER_KEY: submitter.privateKey, PARSEC_SIGNER_KEYS: options.servesKey },
    overrides: {
      nodeId: `${prefix}node`,
      kafka: { brokers: [...brokers], groupId: `${prefix}nodes`, topicPrefix: prefix, partitions: 2 },
      chain: {
        rpcUrl: options.provider._getConnection().url,
        channels: options.channels,
        startBlock: options.startBlock,
        pollIntervalMs: 200,
      },
      state: { dir: stateDir, flushIntervalMs: 200 },
      commit: { everyM: 1_000_000, checkpointTimeoutMs: NEVER_MS },
      watchtower: { enabled: false, settle: false },
      ...(options.mediation
        ? {
            mediation: {
              enabled: true,
              feeBase: options.mediation.feeBase.toString(),
              feePpm: options.mediation.feePpm,
              expiryDelta: options.mediation.expiryDelta,
              minConfirmationMarginSeconds: options.mediation.minConfirmationMarginSeconds,
            },
          }
        : {}),
      // The dapp page (vite preview, another origin) calls the node from the browser.
      http: { host: "127.0.0.1", port: 0, corsOrigins: ["*"] },
    },
  });
  const node = await ParsecNode.start(config, { logger: silentLogger });
  const url = node.url;
  if (url === null) throw new Error("the node's HTTP API is off");
  const client: LogClient = createLogClient({ brokers, clientId: `${prefix}e2e`, logger: silentLogger });
  const producer = await client.producer();
  const sent = new Map<string, [number, number]>();

  const appliedSeqs = async (id: string): Promise<[number, number] | undefined> => {
    const res = await fetch(`${url}/channels/${id}`).catch(() => undefined);
    if (!res?.ok) return undefined;
    const body = (await res.json()) as { payers: { seq: number }[] };
    return [body.payers[0].seq, body.payers[1].seq];
  };

  return {
    url,
    async feed(off) {
      const done = sent.get(off.channelId) ?? [0, 0];
      const records: OutRecord[] = [];
      for (const payer of [0, 1] as PayerIndex[]) {
        const signer = payer === 0 ? off.params.participant0 : off.params.participant1;
        for (const t of off.ledger.transfers(payer, done[payer])) {
          const wire = codecs().transfer.encode(transferMessage(off.domain, t, signer));
          records.push({ key: channelKey(off.channelId), value: wire });
        }
      }
      await producer.send(prefix + DEFAULT_TOPICS.transfers, records);
      const want: [number, number] = [off.ledger.state(0).seq, off.ledger.state(1).seq];
      sent.set(off.channelId, want);
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const seqs = await appliedSeqs(off.channelId);
        if (seqs?.[0] === want[0] && seqs[1] === want[1]) return;
        if (Date.now() > deadline)
          throw new Error(`the node applied ${String(seqs)} of ${off.channelId}, not ${want}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      await node.stop();
      await producer.close().catch(() => undefined);
      const topics = Object.values(DEFAULT_TOPICS).map((t) => prefix + t);
      await client.deleteTopics(topics).catch(() => undefined);
      await client.deleteGroups([`${prefix}nodes`]).catch(() => undefined);
      await client.close().catch(() => undefined);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
