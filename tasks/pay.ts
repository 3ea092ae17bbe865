// Payments from a terminal. channel:pay --channel --amount signs, journals and sends your next PAY to the
// counterparty and follows it to the node; channel:pay --invoice pays a routed invoice through the network
// (lib/pay-routed.ts), signing through the same journal; payment:status shows what became of each journaled
// transfer and the balances now. The work is in lib/, loaded on use (Kafka and Avro only when run).
import { task, types } from "hardhat/config";
import type { PayArgs, PayResult, StatusArgs, StatusResult } from "./lib/pay";
import type { RoutedPayArgs, RoutedPayResult } from "./lib/pay-routed";
import { withCommonParams, withKafkaParams } from "./lib/params";

function withPayerParams<T>(t: ReturnType<typeof task<T>>) {
  return withKafkaParams(withCommonParams(t))
    .addOptionalParam("key", "The payer's private key 0x… (default: the account --from)", "", types.string)
    .addOptionalParam(
      "journal",
      "The signing journal file (default ~/.parsec/journal/<chainId>-<channel>-<address>.jsonl)",
      "",
      types.string,
    )
    .addOptionalParam(
      "relayer",
      "The node's HTTP API (default PARSEC_RELAYER_URL, then http://127.0.0.1:8787)",
      "",
      types.string,
    );
}

withPayerParams(
  task(
    "channel:pay",
    "Pays the counterparty of a channel directly (--channel, --amount), or a routed invoice through the network (--invoice)",
  ),
)
  .addOptionalParam("channel", "Channel id (a direct payment)", "", types.string)
  .addOptionalParam("amount", 'Amount in ETH or token units (e.g. "0.5"; a direct payment)', "", types.string)
  .addOptionalParam("wait", "Seconds to wait for the node to apply it (0: send only)", 30, types.int)
  .addOptionalParam(
    "invoice",
    "A routed invoice to pay, parsec1… (instead of --channel and --amount)",
    "",
    types.string,
  )
  .addOptionalParam(
    "maxFee",
    "With --invoice: the most you pay in fees, in ETH or token units (default 1% of the amount)",
    "",
    types.string,
  )
  .addOptionalParam("timeout", "With --invoice: seconds after which no new attempt starts", 60, types.int)
  .addOptionalParam(
    "graphTopic",
    "With --invoice: the channel graph topic (default: the node's, the topic prefix + parsec.channel-graph)",
    "",
    types.string,
  )
  .setAction(async (args: PayArgs & RoutedPayArgs, hre): Promise<PayResult | RoutedPayResult> => {
    const routed = await import("./lib/pay-routed");
    return routed.paymentForm(args) === "routed"
      ? routed.runRoutedPay(args, hre)
      : (await import("./lib/pay")).runPay(args, hre);
  });

withPayerParams(
  task(
    "payment:status",
    "Shows your journaled transfers of a channel (applied, pending or dead-lettered) and its balances now",
  ),
)
  .addOptionalParam("seq", "Only this seq (default: every journaled transfer)", 0, types.int)
  .setAction(async (args: StatusArgs, hre): Promise<StatusResult> =>
    (await import("./lib/pay")).runStatus(args, hre),
  );
