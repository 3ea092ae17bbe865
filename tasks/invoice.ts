// Routed-payment tasks (docs/protocol.md §11): invoice:create signs a routed invoice and keeps its secret in
// a file, invoice:show reads one in words, invoice:receive answers the payments of one as its payee,
// route:find finds routes to its payee over the channel graph, and route:announce publishes a participant's
// forwarding policy there. The work is in lib/invoice.ts, lib/receive.ts, lib/route.ts and lib/announce.ts,
// loaded on use (so Hardhat does not load Kafka and Avro for every command).
import { task, types } from "hardhat/config";
import type { AnnounceArgs, AnnounceResult } from "./lib/announce";
import type { GraphArgs } from "./lib/graph";
import type { CreateArgs, CreateResult, ShowArgs, ShowResult } from "./lib/invoice";
import type { FindArgs, FindResult } from "./lib/route";
import type { ReceiveArgs, ReceiveResult } from "./lib/receive";
import { withCommonParams, withKafkaParams } from "./lib/params";

/** The channel graph's Kafka options (the node's, as node:control takes them, and the topic's name). */
function withGraphParams<T extends Partial<GraphArgs>>(t: ReturnType<typeof task<T>>) {
  return withKafkaParams(t).addOptionalParam(
    "graphTopic",
    "The channel graph topic (default: the node's, the topic prefix + parsec.channel-graph)",
    "",
    types.string,
  );
}

withGraphParams(
  withCommonParams(
    task(
      "invoice:create",
      "Creates a signed routed invoice (parsec1…) as the payee; the secret goes to a file only you can read",
    ),
  ),
)
  .addParam("amount", 'The amount to be paid, in ETH or token units (e.g. "0.5")', undefined, types.string)
  .addOptionalParam(
    "asset",
    "ERC-20 address (or TST for the deployment's TestToken); ETH if omitted",
    "",
    types.string,
  )
  .addOptionalParam("description", "What the payment is for (at most 192 UTF-8 bytes)", "", types.string)
  .addOptionalParam("expiry", "Seconds the invoice can be paid for", 3600, types.int)
  .addOptionalParam(
    "finalExpiryDelta",
    "Seconds the last hop's lock must stay open after it reaches you (time to register the secret on-chain)",
    3600,
    types.int,
  )
  .addOptionalParam("key", "The payee's private key 0x… (default: the account --from)", "", types.string)
  .addOptionalParam(
    "hint",
    "Channel ids into you to hint, comma-separated (at most 3): the forwarder's announced ChannelUpdate gives the fees",
    "",
    types.string,
  )
  .addOptionalParam(
    "secretFile",
    "Where to keep the secret (default ~/.parsec/invoices/<invoice id>.secret.json); never overwritten",
    "",
    types.string,
  )
  .setAction(async (args: CreateArgs, hre): Promise<CreateResult> =>
    (await import("./lib/invoice")).runCreate(args, hre),
  );

task("invoice:show", "Checks an invoice (checksum, signature, deployment) and prints it in words")
  .addOptionalParam("deployment", "Deployment JSON (default deployments/<network>.json)", "", types.string)
  .addParam("invoice", "The invoice text, parsec1…", undefined, types.string)
  .setAction(async (args: ShowArgs, hre): Promise<ShowResult> =>
    (await import("./lib/invoice")).runShow(args, hre),
  );

withKafkaParams(
  withCommonParams(
    task(
      "invoice:receive",
      "As the payee, answers the routed payments of your invoices (their secret files) until this one is paid",
    ),
  ),
)
  .addOptionalParam("invoice", "The invoice to wait for, parsec1…", "", types.string)
  .addOptionalParam(
    "secretFile",
    "Its secret file (default ~/.parsec/invoices/<invoice id>.secret.json, where invoice:create keeps it)",
    "",
    types.string,
  )
  .addOptionalParam("key", "The payee's private key 0x… (default: the account --from)", "", types.string)
  .addOptionalParam("timeout", "Seconds to wait for the payment", 600, types.int)
  .setAction(async (args: ReceiveArgs, hre): Promise<ReceiveResult> =>
    (await import("./lib/receive")).runReceive(args, hre),
  );

withGraphParams(
  withCommonParams(
    task(
      "route:find",
      "Finds the best routes from you (--from) to an invoice's payee over the channel graph, hop by hop",
    ),
  ),
)
  .addParam("invoice", "The invoice text, parsec1…", undefined, types.string)
  .addOptionalParam(
    "maxFee",
    "The most you pay in fees, in ETH or token units (default 1% of the amount)",
    "",
    types.string,
  )
  .addOptionalParam("maxRoutes", "How many ranked routes to print", 3, types.int)
  .setAction(async (args: FindArgs, hre): Promise<FindResult> =>
    (await import("./lib/route")).runFind(args, hre),
  );

withGraphParams(
  withCommonParams(
    task(
      "route:announce",
      "Signs your forwarding policy for your direction of a channel (a ChannelUpdate) and publishes it on the channel graph",
    ),
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addOptionalParam(
    "key",
    "The participant's private key 0x… (default: the account --from)",
    "",
    types.string,
  )
  .addOptionalParam("feeBase", "Fee per forwarded lock, in ETH or token units", "0", types.string)
  .addOptionalParam("feePpm", "Fee in parts per million of the forwarded amount", 1000, types.int)
  .addOptionalParam(
    "expiryDelta",
    "Seconds you want between the lock you forward and the lock you receive",
    3600,
    types.int,
  )
  .addOptionalParam(
    "capacity",
    "The most you forward in this direction, in ETH or token units (default: your deposit)",
    "",
    types.string,
  )
  .addOptionalParam("htlcMinimum", "The smallest lock you forward (default: one base unit)", "", types.string)
  .addOptionalParam("htlcMaximum", "The largest lock you forward (default: the capacity)", "", types.string)
  .addFlag("disabled", "Announce that you forward nothing in this direction (a wallet's own channel)")
  .setAction(async (args: AnnounceArgs, hre): Promise<AnnounceResult> =>
    (await import("./lib/announce")).runAnnounce(args, hre),
  );
