/**
 * The Parsec node (relayer) as a library: start a node in-process, load its configuration, or use
 * the parts (Kafka client, topics, signer) on their own. The command line is `relayer/src/main.ts`.
 */
export { ParsecNode, type NodeOptions } from "./src/node";
export {
  loadConfig,
  addressOfKey,
  readDeployment,
  ENV,
  type ConfigOverrides,
  type RelayerConfig,
  type TopicNames,
} from "./src/config";
export {
  ConfigError,
  ChainError,
  KafkaError,
  MissingKeyError,
  RelayerError,
  TxRevertedError,
} from "./src/errors";
export { createLogger, silentLogger, type Logger } from "./src/log";
export {
  createLogClient,
  partitionOf,
  type LogClient,
  type InRecord,
  type OutRecord,
} from "./src/kafka/client";
export { channelKey, channelIdOfKey, channelPartition, topicSpecs, prepareTopics } from "./src/kafka/topics";
export { CheckpointSigner, signerGroupId } from "./src/signer/signer";
export { M as METRICS } from "./src/http/metrics";
export type { FaultPoint } from "./src/state/partition";
