// Operator tasks for a running Parsec node, over its Kafka topics (docs/relayer.md, "Operator tools"):
// node:control sends a control request and waits for the node's answer; node:follow prints what the nodes
// publish (settlements, dead letters) in words. The work is in lib/operator.ts, loaded on use.
import { task, types } from "hardhat/config";
import type { ControlArgs, ControlResult, FollowArgs, FollowResult } from "./lib/operator";

/** Adds the Kafka options (brokers, topic prefix, the node's config) of the tasks that talk to a node. */
export function withKafkaParams<T>(t: ReturnType<typeof task<T>>) {
  return t
    .addOptionalParam(
      "brokers",
      "Kafka brokers host:port,… (default KAFKA_BROKERS, then the node's config)",
      "",
      types.string,
    )
    .addOptionalParam(
      "prefix",
      "The node's topic prefix (default PARSEC_TOPIC_PREFIX, then the node's config)",
      "",
      types.string,
    )
    .addOptionalParam(
      "nodeConfig",
      "The node's JSON config file (its --config), for its kafka section (default PARSEC_CONFIG)",
      "",
      types.string,
    );
}

withKafkaParams(
  task(
    "node:control",
    "Sends a control request (settle-now, dispute, checkpoint-now) to the node that holds a channel and prints its answer",
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addParam("action", "settle-now, dispute or checkpoint-now", undefined, types.string)
  .addOptionalParam("wait", "Seconds to wait for the node's answer (0: publish only)", 60, types.int)
  .addOptionalParam("reason", "A note kept with the request", "", types.string)
  .setAction(async (args: ControlArgs): Promise<ControlResult> =>
    (await import("./lib/operator")).runControl(args),
  );

withKafkaParams(
  task(
    "node:follow",
    "Prints the node's settlement events and dead letters in words, one line per record, as they come",
  ),
)
  .addOptionalParam(
    "topics",
    "Comma-separated: settlements, dead-letter, control",
    "settlements,dead-letter",
    types.string,
  )
  .addFlag("fromBeginning", "Start at the oldest record kept (default: only new records)")
  .addOptionalParam("limit", "Stop after this many lines (0: no limit)", 0, types.int)
  .addOptionalParam("channel", "Only this channel's records", "", types.string)
  .addOptionalParam(
    "idle",
    "Stop after this many seconds without a record (0: follow until Ctrl-C)",
    0,
    types.int,
  )
  .setAction(async (args: FollowArgs): Promise<FollowResult> =>
    (await import("./lib/operator")).runFollow(args),
  );
