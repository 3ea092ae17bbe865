// The parameters Parsec tasks share: the deployment file and the sending account; the node's Kafka options.
import { types, type task } from "hardhat/config";

export interface CommonArgs {
  deployment: string;
  from: string;
}

/** Adds `--deployment` and `--from` to a task. */
export function withCommonParams<T>(t: ReturnType<typeof task<T>>) {
  return t
    .addOptionalParam("deployment", "Deployment JSON (default deployments/<network>.json)", "", types.string)
    .addOptionalParam(
      "from",
      "Sending account: address or index (default the first account)",
      "",
      types.string,
    );
}

/** Adds the node's Kafka options (`--brokers`, `--prefix`, `--node-config`), resolved by `kafkaTarget`. */
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
