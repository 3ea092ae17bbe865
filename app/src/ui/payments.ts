/**
 * The Payments panel: the payment key, Balances, Pay (invoice with a preview, or direct), Request
 * (invoice text + QR code, paid indicator) and History. It renders what the engine reports; the engine
 * does the signing, the journal and the node.
 */
import QRCode from "qrcode";
import { getAddress, isAddress, type Address } from "viem";
import { describeError, parseAmount } from "../../../client";
import { ZERO_ADDRESS, type Hash } from "../../../sdk/isomorphic";
import type { ChannelBalance, InvoicePreview, PaymentEngine } from "../payments/engine";
import type { PaymentRecord, StoredInvoice } from "../payments/store";
import { h, short } from "./dom";

/** How amounts show: the asset's symbol and decimals (ETH and the demo token are known up front). */
export type AmountWords = (amount: bigint, asset: Address) => string;
export type AssetDecimals = (asset: Address) => number;

export interface PaymentsHandlers {
  enable(): Promise<void>;
  fundAndOpen(counterparty: Address, depositText: string): Promise<void>;
}

export interface PaymentsPanel {
  readonly element: HTMLElement;
  /** Shows the session (null: payments not enabled) and the engine's data now. */
  render(session: Address | null, engine: PaymentEngine | null): void;
}

const SECONDS_PER_MINUTE = 60;

export function createPaymentsPanel(
  testToken: Address | undefined,
  words: AmountWords,
  decimalsOf: AssetDecimals,
  handlers: PaymentsHandlers,
): PaymentsPanel {
  let engine: PaymentEngine | null = null;
  const error = h("p", { class: "error", "data-testid": "payments-error" });
  const guard = (work: () => Promise<void>) => () => {
    error.textContent = "";
    work().catch((e: unknown) => (error.textContent = describeError(e)));
  };

  // The payment key.
  const keyLine = h("span", { class: "meta", "data-testid": "session-address" }, "payments not enabled");
  const enableButton = h("button", { "data-testid": "enable-payments" }, "Enable payments (one signature)");
  enableButton.addEventListener("click", guard(handlers.enable));
  const fundCounterparty = h("input", {
    placeholder: "0x… node address",
    size: 44,
    "data-testid": "fund-counterparty",
  });
  const fundAmount = h("input", { placeholder: "0.05", inputmode: "decimal", "data-testid": "fund-amount" });
  const fundButton = h("button", { "data-testid": "fund-open" }, "Fund & open payment channel (ETH)");
  fundButton.addEventListener(
    "click",
    guard(async () => {
      const to = fundCounterparty.value.trim();
      if (!isAddress(to)) throw new Error("The counterparty must be a 0x… address.");
      await handlers.fundAndOpen(getAddress(to), fundAmount.value);
    }),
  );
  const fundRow = h("div", { class: "row", hidden: true }, fundCounterparty, fundAmount, fundButton);

  // Balances.
  const balanceRows = h("tbody", {});
  const balances = h(
    "table",
    { "data-testid": "balances" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "channel"),
        h("th", {}, "with"),
        h("th", {}, "can send"),
        h("th", {}, "can receive"),
        h("th", {}, "held in locks (out / in)"),
      ),
    ),
    balanceRows,
  );

  // Pay: by invoice (preview, confirm) or direct.
  const invoiceInput = h("textarea", {
    rows: 3,
    cols: 70,
    placeholder: "parsec1… invoice",
    "data-testid": "pay-invoice",
  });
  const maxFeeInput = h("input", {
    placeholder: "max fee (default 1%)",
    inputmode: "decimal",
    "data-testid": "pay-max-fee",
  });
  const previewButton = h("button", { "data-testid": "pay-preview" }, "Preview");
  const confirmButton = h("button", { "data-testid": "pay-confirm", hidden: true }, "Confirm payment");
  const previewBox = h("div", { class: "preview", "data-testid": "pay-preview-box", hidden: true });
  const payStatus = h("p", { class: "meta", "data-testid": "pay-status" });
  let previewed: InvoicePreview | null = null;
  let previewedText = "";
  const maxFeeOf = (asset: Address): bigint | undefined =>
    maxFeeInput.value.trim()
      ? parseAmount(maxFeeInput.value, decimalsOf(asset), { allowZero: true })
      : undefined;
  previewButton.addEventListener(
    "click",
    guard(async () => {
      previewed = null;
      confirmButton.hidden = true;
      previewBox.hidden = true;
      // A new preview replaces the last outcome: a stale "failed" must not read as this invoice's.
      payStatus.textContent = "";
      delete payStatus.dataset.status;
      if (!engine) throw new Error("Enable payments first.");
      previewedText = invoiceInput.value.trim();
      const p = await engine.preview(previewedText, undefined).catch(async (e: unknown) => {
        payStatus.textContent = `failed: ${describeError(e)}`;
        payStatus.dataset.status = "failed";
        throw e;
      });
      const inv = p.invoice.invoice;
      const p2 = maxFeeInput.value.trim() ? await engine.preview(previewedText, maxFeeOf(inv.asset)) : p;
      previewed = p2;
      previewBox.replaceChildren(
        line("payee", inv.payee, "preview-payee"),
        line("amount", words(inv.amount, inv.asset), "preview-amount"),
        line("description", inv.description || "(none)", "preview-description"),
        line(
          "route",
          p2.route.hops
            .map((x, i) => (i === 0 ? `${short(x.from)} → ${short(x.to)}` : `→ ${short(x.to)}`))
            .join(" "),
          "preview-route",
        ),
        line("fee", words(p2.fee, inv.asset), "preview-fee"),
        line("lock expires", new Date(Number(p2.lockExpiry) * 1000).toISOString(), "preview-expiry"),
        line("invoice expires", new Date(Number(inv.expiry) * 1000).toISOString(), "preview-invoice-expiry"),
      );
      previewBox.hidden = false;
      confirmButton.hidden = false;
    }),
  );
  confirmButton.addEventListener(
    "click",
    guard(async () => {
      if (!engine || !previewed) throw new Error("Preview the invoice first.");
      confirmButton.hidden = true;
      const asset = previewed.invoice.invoice.asset;
      payStatus.dataset.status = "pending";
      payStatus.textContent = "pending: locking on the route and waiting for the payee's secret…";
      const rec = await engine.payInvoice(previewedText, maxFeeOf(asset));
      showOutcome(rec);
    }),
  );
  const directChannel = h("select", { "data-testid": "direct-channel" });
  const directAmount = h("input", {
    placeholder: "0.001",
    inputmode: "decimal",
    "data-testid": "direct-amount",
  });
  const directButton = h("button", { "data-testid": "direct-pay" }, "Pay counterparty");
  directButton.addEventListener(
    "click",
    guard(async () => {
      if (!engine) throw new Error("Enable payments first.");
      const id = directChannel.value as Hash;
      if (!id) throw new Error("Open a payment channel first.");
      const asset = engine.balances().find((b) => b.channelId === id)?.asset ?? ZERO_ADDRESS;
      const amount = parseAmount(directAmount.value, decimalsOf(asset));
      payStatus.dataset.status = "pending";
      payStatus.textContent = "pending: signed and sent, waiting for the node to apply it…";
      showOutcome(await engine.payDirect(id, amount));
    }),
  );
  function showOutcome(rec: PaymentRecord): void {
    payStatus.dataset.status = rec.status;
    payStatus.textContent =
      rec.status === "done"
        ? `done: paid ${words(rec.amount, rec.asset)} (fee ${words(rec.fee, rec.asset)})${rec.preimage ? `; receipt (preimage) ${rec.preimage}` : ""}; route ${(rec.route ?? []).map(short).join(" → ")}`
        : rec.status === "failed"
          ? `failed: ${rec.reason ?? "unknown reason"}`
          : "pending: the node has not confirmed it yet (see History)";
  }

  // Request.
  const reqAmount = h("input", {
    placeholder: "0.004",
    inputmode: "decimal",
    "data-testid": "request-amount",
  });
  const reqAsset = h(
    "select",
    { "data-testid": "request-asset" },
    h("option", { value: ZERO_ADDRESS }, "ETH"),
    testToken ? h("option", { value: testToken }, "TST (demo token)") : null,
  );
  const reqDescription = h("input", {
    placeholder: "what for",
    size: 30,
    "data-testid": "request-description",
  });
  const reqMinutes = h("input", {
    value: "60",
    inputmode: "numeric",
    size: 4,
    "data-testid": "request-minutes",
  });
  const reqButton = h("button", { "data-testid": "request-create" }, "Create invoice");
  const invoiceText = h("textarea", {
    rows: 3,
    cols: 70,
    readonly: true,
    "data-testid": "invoice-text",
    hidden: true,
  });
  const copyButton = h("button", { hidden: true, "data-testid": "invoice-copy" }, "Copy");
  const qr = h("img", {
    alt: "invoice QR code",
    hidden: true,
    "data-testid": "invoice-qr",
    width: 220,
    height: 220,
  });
  const invoiceStatus = h("p", { class: "meta", "data-testid": "invoice-status" });
  let shown: StoredInvoice | null = null;
  copyButton.addEventListener(
    "click",
    guard(() => navigator.clipboard.writeText(invoiceText.value)),
  );
  reqButton.addEventListener(
    "click",
    guard(async () => {
      if (!engine) throw new Error("Enable payments first.");
      const asset = reqAsset.value as Address;
      const minutes = Number(reqMinutes.value);
      if (!Number.isInteger(minutes) || minutes <= 0) throw new Error("Validity: a whole number of minutes.");
      const inv = await engine.request({
        amount: parseAmount(reqAmount.value, decimalsOf(asset)),
        asset,
        description: reqDescription.value.trim(),
        validitySeconds: minutes * SECONDS_PER_MINUTE,
      });
      shown = inv;
      invoiceText.value = inv.text;
      invoiceText.hidden = false;
      copyButton.hidden = false;
      // Upper case: QR alphanumeric mode, a smaller code; the invoice reads the same in either case.
      qr.src = await QRCode.toDataURL(inv.text.toUpperCase(), { errorCorrectionLevel: "M", margin: 1 });
      qr.hidden = false;
      renderInvoiceStatus();
    }),
  );
  function renderInvoiceStatus(): void {
    if (!shown || !engine) return;
    const now = engine.invoices().find((i) => i.hashlock === shown?.hashlock) ?? shown;
    invoiceStatus.dataset.status = now.paidAtMs ? "paid" : "open";
    invoiceStatus.textContent = now.paidAtMs
      ? `paid at ${new Date(now.paidAtMs).toISOString()}`
      : `waiting for payment (expires ${new Date(Number(now.expiry) * 1000).toISOString()})`;
  }

  // History.
  const historyRows = h("tbody", {});
  const history = h(
    "table",
    { "data-testid": "history" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "time"),
        h("th", {}, ""),
        h("th", {}, "amount"),
        h("th", {}, "fee"),
        h("th", {}, "counterparty / route"),
        h("th", {}, "status"),
      ),
    ),
    historyRows,
  );

  const body = h(
    "div",
    { hidden: true },
    h("h3", {}, "Balances"),
    balances,
    h("h3", {}, "Pay"),
    h("div", { class: "row" }, invoiceInput),
    h("div", { class: "row" }, maxFeeInput, previewButton, confirmButton),
    previewBox,
    h("div", { class: "row" }, h("span", {}, "or directly:"), directChannel, directAmount, directButton),
    payStatus,
    h("h3", {}, "Request"),
    h(
      "div",
      { class: "row" },
      reqAmount,
      reqAsset,
      reqDescription,
      h("span", {}, "valid (min)"),
      reqMinutes,
      reqButton,
    ),
    h("div", { class: "row" }, invoiceText, copyButton),
    qr,
    invoiceStatus,
    h("h3", {}, "History"),
    history,
  );
  const element = h(
    "section",
    { class: "panel", "data-testid": "payments" },
    h("h2", {}, "Payments"),
    h("div", { class: "row" }, keyLine, enableButton),
    fundRow,
    error,
    body,
  );

  function balanceRow(b: ChannelBalance): HTMLElement {
    return h(
      "tr",
      { "data-testid": "balance-row", "data-channel": b.channelId },
      h("td", { title: b.channelId }, short(b.channelId)),
      h("td", { title: b.counterparty }, short(b.counterparty)),
      h("td", { "data-testid": "can-send" }, words(b.canSend, b.asset)),
      h("td", { "data-testid": "can-receive" }, words(b.canReceive, b.asset)),
      h("td", { "data-testid": "held" }, `${words(b.heldOut, b.asset)} / ${words(b.heldIn, b.asset)}`),
    );
  }
  function historyRow(p: PaymentRecord): HTMLElement {
    const who = p.route && p.route.length > 2 ? p.route.map(short).join(" → ") : short(p.counterparty);
    return h(
      "tr",
      {
        "data-testid": "history-row",
        "data-status": p.status,
        "data-direction": p.direction,
        "data-id": p.id,
      },
      h("td", {}, new Date(p.createdAtMs).toISOString().slice(11, 19)),
      h("td", {}, `${p.direction} (${p.kind})`),
      h("td", { "data-testid": "history-amount" }, words(p.amount, p.asset)),
      h("td", { "data-testid": "history-fee" }, words(p.fee, p.asset)),
      h("td", { title: (p.route ?? [p.counterparty]).join(" → ") }, who),
      h(
        "td",
        { "data-testid": "history-status", title: p.reason ?? p.preimage ?? "" },
        p.reason ? `${p.status}: ${p.reason}` : p.status,
      ),
    );
  }

  return {
    element,
    render(session, next) {
      engine = next;
      keyLine.textContent = session ? `payment key ${session}` : "payments not enabled";
      enableButton.hidden = session !== null;
      fundRow.hidden = session === null;
      body.hidden = session === null || next === null;
      if (!next) return;
      const list = next.balances();
      balanceRows.replaceChildren(...list.map(balanceRow));
      const selected = directChannel.value;
      directChannel.replaceChildren(
        ...list.map((b) =>
          h("option", { value: b.channelId }, `${short(b.channelId)} with ${short(b.counterparty)}`),
        ),
      );
      if (list.some((b) => b.channelId === selected)) directChannel.value = selected;
      historyRows.replaceChildren(...next.history().map(historyRow));
      renderInvoiceStatus();
    },
  };
}

function line(label: string, value: string, testid: string): HTMLElement {
  return h(
    "div",
    {},
    h("span", { class: "muted" }, `${label}: `),
    h("span", { "data-testid": testid }, value),
  );
}
