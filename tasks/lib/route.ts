/**
 * route:find: the best routes from the payer to an invoice's payee (protocol §11.3) over the channel graph
 * of `./graph`, hop by hop in words, and why there is none when no route fits.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  findRoutes,
  isParsecError,
  type Address,
  type ParsecError,
  type Route,
  type SignedRoutedInvoice,
} from "../../sdk";
import { amountArg, formatAmount, parsecContext, readContext } from "./context";
import { TaskError } from "./errors";
import { graphReportWords, loadGraph, openChannels, type GraphArgs, type GraphReport } from "./graph";
import {
  amountWords,
  assetWords,
  chainNow,
  durationWords,
  iso,
  parseInvoiceArg,
  type AssetWords,
} from "./invoice";
import { print } from "./output";

export interface FindArgs extends GraphArgs {
  readonly deployment: string;
  readonly from: string;
  readonly invoice: string;
  readonly maxFee: string;
  readonly maxRoutes: number;
}

export interface FindResult {
  readonly invoice: SignedRoutedInvoice;
  readonly routes: readonly Route[];
  readonly graph: GraphReport;
}

function routeLines(route: Route, i: number, a: AssetWords, now: bigint): string[] {
  const fmt = (v: bigint) => formatAmount(v, a.decimals, a.symbol);
  const lines = [
    `route ${i + 1}: ${route.hops.length} hop(s), fee ${fmt(route.fee)} (${route.fee} base units); you lock ` +
      `${fmt(route.amount)} until ${iso(route.expiry)} (${durationWords(route.expiry - now)}); ` +
      `success chance about ${Math.round(route.probability * 100)}%`,
  ];
  route.hops.forEach((h, j) => {
    lines.push(
      `  hop ${j + 1}: ${h.from} → ${h.to} over channel ${h.channelId}: lock ${fmt(h.amount)} until ${iso(h.expiry)}, ` +
        (j === 0 ? "your own channel (no fee)" : `fee ${fmt(h.fee)} kept by ${h.from}`),
    );
  });
  return lines;
}

/** Why no route fits, in words with amounts in the asset's units. */
function noRouteWords(e: ParsecError, a: AssetWords): string {
  const fmt = (v: unknown) => (typeof v === "bigint" ? formatAmount(v, a.decimals, a.symbol) : String(v));
  const d = e.details;
  switch (e.code) {
    case "FeeTooHigh":
      return (
        `no route within your maximum fee (FeeTooHigh): the cheapest route costs ${fmt(d.cheapestFee)} in fees, ` +
        `over the maximum of ${fmt(d.maxFee)}. Raise --max-fee to at least ${fmt(d.cheapestFee)}`
      );
    case "InsufficientCapacity":
      return (
        `no route can carry ${fmt(d.amount)} (InsufficientCapacity): the most any route carries is ` +
        `${fmt(d.maxRoutable)}. Ask for less, split the payment, or wait for forwarders to announce more capacity`
      );
    default:
      return `no route to the payee (${e.code}): ${e.message}`;
  }
}

/** route:find: the best routes from the payer (`--from`) to the invoice's payee over the channel graph. */
export async function runFind(args: FindArgs, hre: HardhatRuntimeEnvironment): Promise<FindResult> {
  const ctx = await readContext(hre, args);
  const now = await chainNow(ctx);
  const signed = parseInvoiceArg(args.invoice, ctx, now, false);
  const inv = signed.invoice;
  if (!Number.isInteger(args.maxRoutes) || args.maxRoutes < 1)
    throw new TaskError(`--max-routes must be a whole number ≥ 1, got ${args.maxRoutes}`);
  const { signer } = await parsecContext(hre, { deployment: args.deployment, from: args.from });
  const payer = signer.address as Address;
  const a = await assetWords(ctx, inv.asset);
  const maxFee = args.maxFee ? amountArg("max-fee", args.maxFee, a.decimals, true) : undefined;

  const { graph, report } = await loadGraph(ctx, args, now, await openChannels(ctx));
  print(`  ${graphReportWords(report)}`);
  print(
    `finding routes from ${payer} to ${inv.payeeNode} for ${amountWords(inv.amount, a)}` +
      (maxFee === undefined
        ? " (fee limit 1% of the amount)"
        : `, fee at most ${formatAmount(maxFee, a.decimals, a.symbol)}`) +
      (inv.hints.length > 0 ? `, with ${inv.hints.length} route hint(s) from the invoice` : ""),
  );
  let routes: Route[];
  try {
    routes = findRoutes(graph, {
      source: payer,
      target: inv.payeeNode,
      amount: inv.amount,
      asset: inv.asset,
      finalExpiryDelta: inv.minFinalExpiryDelta,
      now,
      maxFee,
      routeHints: inv.hints,
      maxRoutes: args.maxRoutes,
    });
  } catch (e) {
    if (!isParsecError(e)) throw e;
    throw new TaskError(noRouteWords(e, a), e);
  }
  routes.forEach((r, i) => routeLines(r, i, a, now).forEach((line) => print(line)));
  return { invoice: signed, routes, graph: report };
}
