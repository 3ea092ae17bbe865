/** The payments log the dapp reaches the node through: the node's HTTP payments API (`httpPaymentLog`). */
import { httpPaymentLog, type PaymentLog } from "../../../client";

/** The node's payments API at `relayerUrl`, or null without one (payments then stay disabled). */
export function paymentLogFor(relayerUrl: string | null): (PaymentLog & { close(): void }) | null {
  return relayerUrl ? httpPaymentLog({ baseUrl: relayerUrl }) : null;
}
