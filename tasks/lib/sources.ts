/** Evidence and counterparty signatures from a file or from a relayer URL. */
import fs from "node:fs";
import { readEvidence, type ChannelEvidence, relayerClient } from "../../client";
import type { Domain, Hash } from "../../sdk/isomorphic";
import { TaskError } from "./errors";
import { print } from "./output";

export interface EvidenceArgs {
  readonly evidence?: string;
  readonly relayer?: string;
}

/** Reads evidence from `--evidence <file>` or `--relayer <url>`; `null` if neither was given. */
export async function loadEvidence(
  args: EvidenceArgs,
  domain: Domain,
  channelId: Hash,
): Promise<ChannelEvidence | null> {
  if (args.evidence && args.relayer) throw new TaskError("give --evidence or --relayer, not both");
  let evidence: ChannelEvidence;
  try {
    if (args.evidence) {
      evidence = readEvidence(fs.readFileSync(args.evidence, "utf8"), { domain, channelId });
      print(`  evidence from ${args.evidence}`);
    } else if (args.relayer) {
      evidence = await relayerClient(args.relayer).evidence(channelId, domain);
      print(`  evidence from ${args.relayer}`);
    } else return null;
  } catch (e) {
    if (e instanceof TaskError) throw e;
    throw new TaskError(e instanceof Error ? e.message : String(e), e);
  }
  print(
    `  evidence holds payer 0 up to seq ${evidence.ledger.state(0).seq}, payer 1 up to seq ${evidence.ledger.state(1).seq}` +
      (evidence.checkpoint ? `, checkpoint (${evidence.checkpoint.seq0}, ${evidence.checkpoint.seq1})` : ""),
  );
  return evidence;
}
